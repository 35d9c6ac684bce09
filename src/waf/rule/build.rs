//! Turns parsed directives into a `RuleSet`: engine settings, per-phase
//! default actions, chains, markers, and the update/remove directives.

use super::actions::apply_action;
use super::{Actions, Disruptive, EngineMode, Macro, Rule, RuleOperator, RuleSet, Step, Target};
use crate::waf::operator::{self, OperatorEnv};
use crate::waf::seclang::{Directive, ParseError, parse_actions, parse_targets};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Engine settings from `Sec*` directives (ModSecurity's names and defaults).
#[derive(Debug, Clone)]
pub struct Settings {
    pub engine: EngineMode,
    pub request_body_access: bool,
    pub request_body_limit: usize,
    pub request_body_no_files_limit: usize,
    /// `SecRequestBodyLimitAction ProcessPartial` (else Reject).
    pub request_body_partial: bool,
    pub response_body_access: bool,
    pub response_body_limit: usize,
    pub response_body_partial: bool,
    pub response_body_mime_types: Vec<String>,
    pub argument_separator: u8,
    pub arguments_limit: usize,
    pub json_depth_limit: usize,
    pub component_signatures: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            engine: EngineMode::DetectionOnly,
            request_body_access: false,
            request_body_limit: 134_217_728,
            request_body_no_files_limit: 1_048_576,
            request_body_partial: false,
            response_body_access: false,
            response_body_limit: 524_288,
            response_body_partial: false,
            response_body_mime_types: vec!["text/plain".into(), "text/html".into()],
            argument_separator: b'&',
            arguments_limit: 1000,
            json_depth_limit: 10_000,
            component_signatures: Vec::new(),
        }
    }
}

// Built once per load; boxing the rule would only add indirection.
#[allow(clippy::large_enum_variant)]
enum Entry {
    Rule(Rule),
    Marker(String),
}

/// Accumulates directives from any number of files, in order.
pub struct RuleSetBuilder {
    entries: Vec<Entry>,
    defaults: [Actions; 5],
    chain_open: bool,
    settings: Settings,
}

impl Default for RuleSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn pass_defaults() -> Actions {
    Actions {
        disruptive: Some(Disruptive::Pass),
        ..Actions::default()
    }
}

impl RuleSetBuilder {
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
            defaults: std::array::from_fn(|_| pass_defaults()),
            chain_open: false,
            settings: Settings::default(),
        }
    }

    pub fn add_all(&mut self, directives: &[Directive]) -> Result<(), ParseError> {
        directives.iter().try_for_each(|d| self.add(d))
    }

    pub fn add(&mut self, d: &Directive) -> Result<(), ParseError> {
        self.apply(d).map_err(|message| ParseError {
            file: d.file.clone(),
            line: d.line,
            message: format!("{}: {message}", d.name),
        })
    }

    pub fn finish(self) -> Result<RuleSet, ParseError> {
        if self.chain_open
            && let Some(Entry::Rule(rule)) = self.entries.last()
        {
            return Err(ParseError {
                file: rule.file.clone(),
                line: rule.line,
                message: "the last rule opens a chain that no SecRule continues".into(),
            });
        }
        let mut phases: [Vec<Step>; 5] = Default::default();
        let mut chains: std::collections::HashMap<Vec<String>, u32> =
            std::collections::HashMap::new();
        for entry in self.entries {
            match entry {
                Entry::Rule(mut rule) => {
                    let mut link = Some(&mut rule);
                    while let Some(r) = link {
                        let names: Vec<String> = r
                            .actions
                            .transforms
                            .iter()
                            .map(|(n, _)| n.to_ascii_lowercase())
                            .collect();
                        if !names.is_empty() {
                            let next = u32::try_from(chains.len() + 1).unwrap_or(u32::MAX);
                            r.actions.chain_id = *chains.entry(names).or_insert(next);
                        }
                        link = r.chain.as_deref_mut();
                    }
                    let index = usize::from(rule.phase.clamp(1, 5) - 1);
                    phases[index].push(Step::Rule(Arc::new(rule)));
                }
                // A marker belongs to every phase, as in ModSecurity.
                Entry::Marker(name) => phases
                    .iter_mut()
                    .for_each(|p| p.push(Step::Marker(name.clone()))),
            }
        }
        let block_defaults = std::array::from_fn(|i| {
            let d = &self.defaults[i];
            (d.disruptive.unwrap_or(Disruptive::Pass), d.status)
        });
        Ok(RuleSet {
            phases,
            settings: self.settings,
            block_defaults,
        })
    }

    fn apply(&mut self, d: &Directive) -> Result<(), String> {
        let name = d.name.to_ascii_lowercase();
        if name != "secrule" && self.chain_open {
            return Err("a chained rule must be followed by a SecRule".into());
        }
        let args = d.args.as_slice();
        match name.as_str() {
            "secrule" => {
                let [targets, operator, rest @ ..] = args else {
                    return Err("expects targets, an operator and actions".into());
                };
                let actions = match rest {
                    [] => "",
                    [a] => a.as_str(),
                    _ => return Err("too many arguments".into()),
                };
                self.add_rule(d, Some((targets, operator)), actions)
            }
            "secaction" => {
                let [actions] = args else {
                    return Err("expects one action list".into());
                };
                self.add_rule(d, None, actions)
            }
            "secmarker" => {
                let [marker] = args else {
                    return Err("expects one name".into());
                };
                self.entries.push(Entry::Marker(marker.clone()));
                Ok(())
            }
            "secdefaultaction" => {
                let [actions] = args else {
                    return Err("expects one action list".into());
                };
                let mut defaults = Actions::default();
                let mut phase = 2;
                for spec in parse_actions(actions)? {
                    if spec.name == "phase" {
                        phase = parse_phase(spec.value.as_deref())?;
                    } else {
                        apply_action(&mut defaults, &spec)?;
                    }
                }
                if defaults.disruptive.is_none() {
                    return Err("SecDefaultAction needs a disruptive action".into());
                }
                self.defaults[usize::from(phase - 1)] = defaults;
                Ok(())
            }
            "secruleremovebyid" => {
                let ranges = args
                    .iter()
                    .flat_map(|a| a.split([' ', ',']))
                    .filter(|a| !a.is_empty())
                    .map(super::parse_id_range)
                    .collect::<Result<Vec<_>, _>>()?;
                self.entries.retain(|e| match e {
                    Entry::Rule(r) => !ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&r.id)),
                    Entry::Marker(_) => true,
                });
                Ok(())
            }
            "secruleremovebytag" => {
                self.entries.retain(|e| match e {
                    Entry::Rule(r) => !args.iter().any(|t| r.has_tag(t)),
                    Entry::Marker(_) => true,
                });
                Ok(())
            }
            "secruleremovebymsg" => {
                self.entries.retain(|e| match e {
                    Entry::Rule(r) => !args.iter().any(|m| {
                        r.actions.msg.as_ref().and_then(|x| x.literal()) == Some(m.as_str())
                    }),
                    Entry::Marker(_) => true,
                });
                Ok(())
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" => {
                let [selector, targets, ..] = args else {
                    return Err("expects a rule id (or tag) and targets".into());
                };
                let (add, remove) = compile_targets(targets)?;
                let by_tag = name.ends_with("bytag");
                let range = if by_tag {
                    None
                } else {
                    Some(super::parse_id_range(selector)?)
                };
                let mut found = false;
                for entry in &mut self.entries {
                    let Entry::Rule(rule) = entry else { continue };
                    let hit = match range {
                        Some((lo, hi)) => (lo..=hi).contains(&rule.id),
                        None => rule.has_tag(selector),
                    };
                    if hit {
                        found = true;
                        rule.targets.extend(add.iter().cloned());
                        rule.exclusions.extend(remove.iter().cloned());
                    }
                }
                if !found && !by_tag {
                    return Err(format!("no rule with id {selector}"));
                }
                Ok(())
            }
            "secruleupdateactionbyid" => {
                let [id, actions] = args else {
                    return Err("expects a rule id and actions".into());
                };
                let (lo, hi) = super::parse_id_range(id)?;
                let specs = parse_actions(actions)?;
                let mut found = false;
                for entry in &mut self.entries {
                    let Entry::Rule(rule) = entry else { continue };
                    if (lo..=hi).contains(&rule.id) {
                        found = true;
                        for spec in &specs {
                            if spec.name != "id" && spec.name != "phase" {
                                apply_action(&mut rule.actions, spec)?;
                            }
                        }
                    }
                }
                if !found {
                    return Err(format!("no rule with id {id}"));
                }
                Ok(())
            }
            _ => self.apply_setting(&name, args),
        }
    }

    fn apply_setting(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let s = &mut self.settings;
        let one = || -> Result<&str, String> {
            match args {
                [v] => Ok(v.as_str()),
                _ => Err("expects one value".into()),
            }
        };
        let on_off = |v: &str| match v.to_ascii_lowercase().as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(format!("expects On or Off, got {v:?}")),
        };
        let size = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("expects a number, got {v:?}"))
        };
        match name {
            "secruleengine" => {
                s.engine = match one()?.to_ascii_lowercase().as_str() {
                    "on" => EngineMode::On,
                    "off" => EngineMode::Off,
                    "detectiononly" => EngineMode::DetectionOnly,
                    v => return Err(format!("expects On, Off or DetectionOnly, got {v:?}")),
                }
            }
            "secrequestbodyaccess" => s.request_body_access = on_off(one()?)?,
            "secresponsebodyaccess" => s.response_body_access = on_off(one()?)?,
            "secrequestbodylimit" => s.request_body_limit = size(one()?)?,
            "secrequestbodynofileslimit" => s.request_body_no_files_limit = size(one()?)?,
            "secresponsebodylimit" => s.response_body_limit = size(one()?)?,
            "secargumentslimit" => s.arguments_limit = size(one()?)?,
            "secrequestbodyjsondepthlimit" => s.json_depth_limit = size(one()?)?,
            "secrequestbodylimitaction" | "secresponsebodylimitaction" => {
                let partial = match one()?.to_ascii_lowercase().as_str() {
                    "processpartial" => true,
                    "reject" => false,
                    v => return Err(format!("expects Reject or ProcessPartial, got {v:?}")),
                };
                if name.starts_with("secrequest") {
                    s.request_body_partial = partial;
                } else {
                    s.response_body_partial = partial;
                }
            }
            "secresponsebodymimetype" => s.response_body_mime_types.extend(
                args.iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(str::to_ascii_lowercase),
            ),
            "secresponsebodymimetypesclear" => s.response_body_mime_types.clear(),
            "secargumentseparator" => match one()?.as_bytes() {
                [b] => s.argument_separator = *b,
                _ => return Err("expects one character".into()),
            },
            "seccomponentsignature" => s.component_signatures.push(one()?.to_string()),
            // Accepted for compatibility; they configure what the gateway does
            // itself (logging, temp files) or fix what Rust's regex rules out.
            "seccookieformat"
            | "secunicodemapfile"
            | "secpcrematchlimit"
            | "secpcrematchlimitrecursion"
            | "secrequestbodyinmemorylimit"
            | "sectmpdir"
            | "secdatadir"
            | "secdebuglog"
            | "secdebugloglevel"
            | "secauditengine"
            | "secauditlog"
            | "secauditlogparts"
            | "secauditlogtype"
            | "secauditlogrelevantstatus"
            | "secauditlogstoragedir"
            | "secauditlogformat"
            | "seccollectiontimeout"
            | "secstatusengine"
            | "secserversignature"
            | "secwebappid"
            | "secuploaddir"
            | "secuploadkeepfiles"
            | "secuploadfilemode"
            | "secuploadfilelimit"
            | "secxmlexternalentity"
            | "sectmpsaveuploadedfiles"
            | "secruleinheritance" => {}
            _ => return Err("unknown directive".into()),
        }
        Ok(())
    }

    fn add_rule(
        &mut self,
        d: &Directive,
        target_and_op: Option<(&String, &String)>,
        actions: &str,
    ) -> Result<(), String> {
        let specs = parse_actions(actions)?;
        let chained = self.chain_open;
        let mut phase = 2;
        let mut id = 0;
        let mut rule_actions = Actions::default();
        for spec in &specs {
            match spec.name.as_str() {
                "phase" => phase = parse_phase(spec.value.as_deref())?,
                "id" => {
                    id = spec
                        .value
                        .as_deref()
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| format!("bad id {:?}", spec.value))?
                }
                _ => apply_action(&mut rule_actions, spec)?,
            }
        }
        let (targets, exclusions, operator) = match target_and_op {
            Some((targets, op)) => {
                let (t, x) = compile_targets(targets)?;
                (t, x, Some(compile_operator(op, &d.file)?))
            }
            None => (Vec::new(), Vec::new(), None),
        };
        let opens_chain = specs.iter().any(|s| s.name == "chain");
        if chained {
            let Some(Entry::Rule(head)) = self.entries.last_mut() else {
                return Err("chain without a starting rule".into());
            };
            let mut slot = &mut head.chain;
            let mut phase = head.phase;
            while let Some(next) = slot {
                phase = next.phase;
                slot = &mut next.chain;
            }
            *slot = Some(Box::new(Rule {
                id: 0,
                phase,
                targets,
                exclusions,
                operator,
                actions: rule_actions,
                chain: None,
                file: d.file.clone(),
                line: d.line,
            }));
        } else {
            if id == 0 {
                return Err("a rule needs an id".into());
            }
            let defaults = &self.defaults[usize::from(phase - 1)];
            if rule_actions.disruptive.is_none() {
                rule_actions.disruptive = defaults.disruptive;
            }
            if rule_actions.log.is_none() {
                rule_actions.log = defaults.log;
            }
            if rule_actions.status.is_none() {
                rule_actions.status = defaults.status;
            }
            if !rule_actions.transforms_reset && !defaults.transforms.is_empty() {
                let mut t = defaults.transforms.clone();
                t.append(&mut rule_actions.transforms);
                rule_actions.transforms = t;
            }
            self.entries.push(Entry::Rule(Rule {
                id,
                phase,
                targets,
                exclusions,
                operator,
                actions: rule_actions,
                chain: None,
                file: d.file.clone(),
                line: d.line,
            }));
        }
        self.chain_open = opens_chain;
        Ok(())
    }
}

fn parse_phase(value: Option<&str>) -> Result<u8, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("1") => Ok(1),
        Some("2") | Some("request") => Ok(2),
        Some("3") => Ok(3),
        Some("4") | Some("response") => Ok(4),
        Some("5") | Some("logging") => Ok(5),
        other => Err(format!("bad phase {other:?}")),
    }
}

/// Targets and `!` exclusions of a target list.
pub fn compile_targets(text: &str) -> Result<(Vec<Target>, Vec<Target>), String> {
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for spec in parse_targets(text)? {
        let target = Target::compile(&spec)?;
        if spec.exclude {
            remove.push(target)
        } else {
            add.push(target)
        }
    }
    Ok((add, remove))
}

fn compile_operator(text: &str, file: &Path) -> Result<RuleOperator, String> {
    let (negated, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    // No `@name`: ModSecurity's implicit @rx.
    let (name, param) = match rest.strip_prefix('@') {
        Some(r) => match r.split_once(' ') {
            Some((n, p)) => (n, p),
            None => (r, ""),
        },
        None => ("rx", rest),
    };
    let rules_dir: PathBuf = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let env = OperatorEnv {
        rules_dir: &rules_dir,
    };
    let compiled = operator::compile(name, param, &env).map_err(|e| format!("@{name}: {e}"))?;
    let param_macro = Macro::parse(param);
    // A prefilter only for fixed parameters (macro text changes the literals)
    // and for operators that are not already a literal automaton.
    let literal_search = matches!(
        name.to_ascii_lowercase().as_str(),
        "pm" | "pmfromfile" | "pmf"
    );
    let prefilter = if param_macro.has_vars() || literal_search {
        None
    } else {
        compiled.required_literals().and_then(|literals| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(literals)
                .ok()
        })
    };
    let required_bytes = if param_macro.has_vars() {
        None
    } else {
        compiled.required_bytes()
    };
    Ok(RuleOperator {
        prefilter,
        required_bytes,
        name: name.to_string(),
        param: param.to_string(),
        negated,
        param_macro: param_macro.has_vars().then_some(param_macro),
        compiled,
    })
}
