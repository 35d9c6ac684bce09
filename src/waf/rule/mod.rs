//! The compiled rule model: what a SecRule/SecAction means once defaults,
//! chains and markers are applied. Built from directives by `build.rs`.

pub mod actions;
pub mod build;
pub mod macros;
pub mod target;

pub use build::{RuleSetBuilder, Settings};
pub use macros::Macro;
pub use target::{Collection, Selector, Target};

use crate::waf::operator::Operator;
use crate::waf::transform::Transform;
use std::path::Path;
use std::sync::Arc;

/// What a matching rule does to the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruptive {
    Pass,
    /// Deny with the rule's `status` (default 403).
    Deny,
    /// Close the connection.
    Drop,
    /// Stop inspecting: the rest of the transaction (or this phase / the request phases).
    Allow(AllowScope),
    /// The phase's `SecDefaultAction` decides.
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    All,
    Phase,
    Request,
}

#[derive(Debug, Clone)]
pub enum SetVarOp {
    Set(Macro),
    Add(Macro),
    Sub(Macro),
    Delete,
}

/// `setvar:tx.key=value` (collection lower-cased).
#[derive(Debug, Clone)]
pub struct SetVar {
    pub collection: String,
    pub key: Macro,
    pub op: SetVarOp,
}

/// `ctl:` — changes to this transaction only.
#[derive(Debug, Clone)]
pub enum Ctl {
    RuleRemoveById(Vec<(u32, u32)>),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(Vec<(u32, u32)>, Target),
    RuleRemoveTargetByTag(String, Target),
    RuleEngine(EngineMode),
    RequestBodyProcessor(BodyProcessor),
    RequestBodyAccess(bool),
    ForceRequestBodyVariable(bool),
    /// Accepted and without effect here (audit logging is the gateway's).
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    DetectionOnly,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    pub fn name(self) -> &'static str {
        match self {
            Self::UrlEncoded => "URLENCODED",
            Self::Multipart => "MULTIPART",
            Self::Json => "JSON",
            Self::Xml => "XML",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "URLENCODED" => Some(Self::UrlEncoded),
            "MULTIPART" => Some(Self::Multipart),
            "JSON" => Some(Self::Json),
            "XML" => Some(Self::Xml),
            _ => None,
        }
    }
}

/// Values up to this length get the required-byte scan before their regex.
const REQUIRED_BYTES_SCAN_LIMIT: usize = 4096;

/// An operator with the engine's part of it: negation and macro parameters.
#[derive(Debug)]
pub struct RuleOperator {
    pub name: String,
    pub param: String,
    pub negated: bool,
    /// `Some` when the parameter holds `%{…}`, expanded per evaluation.
    pub param_macro: Option<Macro>,
    pub compiled: Box<dyn Operator>,
    /// Literals one of which any matching (transformed) value holds, searched
    /// ASCII case-insensitively before the operator runs; `None` when the
    /// operator gives none or is itself a literal search.
    pub prefilter: Option<aho_corasick::AhoCorasick>,
    /// Bytes one of which any matching value holds: a scan cheaper than the
    /// regex rules out most benign values.
    pub required_bytes: Option<crate::waf::operator::ByteSet>,
}

impl RuleOperator {
    /// The operator's verdict on one transformed value, negation included.
    pub fn matches(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        captures: Option<&mut crate::waf::operator::Captures>,
    ) -> bool {
        // Long values (bodies) skip the byte scan: the regex scans them anyway.
        let possible = self
            .required_bytes
            .as_ref()
            .is_none_or(|set| input.len() > REQUIRED_BYTES_SCAN_LIMIT || set.found_in(input))
            && self.prefilter.as_ref().is_none_or(|p| p.is_match(input));
        let hit = possible && self.compiled.evaluate(input, expanded, captures);
        hit != self.negated
    }
}

/// The actions of one rule (or one link of a chain).
#[derive(Debug, Clone, Default)]
pub struct Actions {
    pub disruptive: Option<Disruptive>,
    pub status: Option<u16>,
    pub msg: Option<Macro>,
    pub logdata: Option<Macro>,
    pub tags: Vec<String>,
    pub severity: Option<u8>,
    pub setvars: Vec<SetVar>,
    pub ctls: Vec<Ctl>,
    pub capture: bool,
    pub multi_match: bool,
    /// `log`/`nolog` (None = the phase default).
    pub log: Option<bool>,
    pub skip: u32,
    pub skip_after: Option<String>,
    pub transforms: Vec<(String, Transform)>,
    /// `t:none` seen: the phase default transformations do not apply.
    pub transforms_reset: bool,
    /// Equal for rules with the same transformation list (0 = none), so a
    /// transaction can cache a value's transformed form across rules.
    pub chain_id: u32,
}

/// One SecRule/SecAction, with its chained rules.
#[derive(Debug)]
pub struct Rule {
    /// 0 for chain links.
    pub id: u32,
    pub phase: u8,
    /// Empty for SecAction (always matches once).
    pub targets: Vec<Target>,
    pub exclusions: Vec<Target>,
    /// `None` for SecAction.
    pub operator: Option<RuleOperator>,
    pub actions: Actions,
    pub chain: Option<Box<Rule>>,
    pub file: Arc<Path>,
    pub line: usize,
}

impl Rule {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.actions.tags.iter().any(|t| t == tag)
    }

    /// Whether matches of this rule are logged (`nolog` silences them).
    pub fn logs(&self) -> bool {
        self.actions.log.unwrap_or(true)
    }
}

/// One entry of a phase's ordered list.
#[derive(Debug)]
pub enum Step {
    Rule(Arc<Rule>),
    /// `SecMarker`: the target of `skipAfter`.
    Marker(String),
}

/// The immutable, compiled rule set: five ordered phase lists and settings.
#[derive(Debug)]
pub struct RuleSet {
    pub phases: [Vec<Step>; 5],
    pub settings: Settings,
    /// Per phase, what `block` means (`SecDefaultAction`) and its status.
    pub block_defaults: [(Disruptive, Option<u16>); 5],
}

impl RuleSet {
    pub fn rule_count(&self) -> usize {
        self.phases
            .iter()
            .flatten()
            .filter(|s| matches!(s, Step::Rule(_)))
            .count()
    }

    /// The index just past the marker (or rule id) named by `skipAfter`, searched from `from`.
    pub fn skip_after_index(&self, phase: usize, from: usize, name: &str) -> Option<usize> {
        let steps = self.phases.get(phase)?;
        (from..steps.len())
            .find(|&i| match &steps[i] {
                Step::Marker(m) => m == name,
                Step::Rule(r) => r.id.to_string() == name,
            })
            .map(|i| i + 1)
    }
}

/// Parses `1`, `1-100` (SecRuleRemoveById, ctl:ruleRemoveById).
pub fn parse_id_range(text: &str) -> Result<(u32, u32), String> {
    let text = text.trim();
    let bad = || format!("bad rule id or range {text:?}");
    match text.split_once('-') {
        Some((a, b)) => {
            let lo = a.trim().parse().map_err(|_| bad())?;
            let hi = b.trim().parse().map_err(|_| bad())?;
            if lo > hi {
                return Err(bad());
            }
            Ok((lo, hi))
        }
        None => {
            let id = text.parse().map_err(|_| bad())?;
            Ok((id, id))
        }
    }
}
