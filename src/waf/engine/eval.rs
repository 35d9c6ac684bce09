//! Evaluates rules against a transaction: targets → transformations →
//! operator, then the actions of a match (captures, setvar, ctl) and macros.

use super::collect::{Sources, Value, excluded};
use super::transaction::{Removal, Transaction};
use crate::waf::operator::Captures;
use crate::waf::rule::{Ctl, Macro, Rule, SetVar, SetVarOp, macros::Part};
use std::borrow::Cow;

impl Transaction {
    /// Evaluates one rule with its chain; runs per-match actions as values
    /// match (as ModSecurity does) and reports whether the whole chain matched.
    pub(super) fn evaluate_chain(&mut self, head: &Rule) -> bool {
        self.state.matched_vars.clear();
        self.state.rule_id = head.id;
        self.state.rule_severity = head.actions.severity;
        let mut link = head;
        loop {
            if !self.evaluate_link(link, head.id) {
                return false;
            }
            match link.chain.as_deref() {
                Some(next) => link = next,
                None => return true,
            }
        }
    }

    fn evaluate_link(&mut self, rule: &Rule, head_id: u32) -> bool {
        let Some(op) = &rule.operator else {
            // SecAction: matches once, with no variable.
            self.run_match_actions(rule);
            return true;
        };
        let matches = {
            let sources = Sources {
                req: &self.req,
                resp: &self.resp,
                state: &self.state,
            };
            let mut values: Vec<Value<'_>> = Vec::new();
            for target in &rule.targets {
                sources.collect(target, &mut values);
            }
            let removed_targets: Vec<&crate::waf::rule::Target> = self
                .removals
                .iter()
                .filter_map(|r| match r {
                    Removal::TargetById(ranges, t)
                        if ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&head_id)) =>
                    {
                        Some(t)
                    }
                    Removal::TargetByTag(tag, t) if self.head_has_tag(tag) => Some(t),
                    _ => None,
                })
                .collect();
            if !rule.exclusions.is_empty() || !removed_targets.is_empty() {
                values.retain(|v| {
                    !excluded(&rule.exclusions, v)
                        && !removed_targets
                            .iter()
                            .any(|t| t.collection == v.collection && t.selects(&v.key))
                });
            }
            let expanded = op
                .param_macro
                .as_ref()
                .map(|m| String::from_utf8_lossy(&self.expand(m)).into_owned());
            let want_captures = rule.actions.capture;
            let mut found: Vec<(String, Vec<u8>, Option<Captures>)> = Vec::new();
            for value in &values {
                let check =
                    |input: &[u8], found: &mut Vec<(String, Vec<u8>, Option<Captures>)>| -> bool {
                        if !want_captures {
                            let hit = op.matches(input, expanded.as_deref(), None);
                            if hit {
                                found.push((value.name(), input.to_vec(), None));
                            }
                            return hit;
                        }
                        let mut captures: Captures = Default::default();
                        let hit = op.matches(input, expanded.as_deref(), Some(&mut captures));
                        if hit {
                            found.push((value.name(), input.to_vec(), Some(captures)));
                        }
                        hit
                    };
                if rule.actions.multi_match {
                    let mut current: Cow<'_, [u8]> = Cow::Borrowed(&value.value);
                    check(&current, &mut found);
                    for (_, t) in &rule.actions.transforms {
                        if let Some(next) = t(&current) {
                            current = Cow::Owned(next);
                            check(&current, &mut found);
                        }
                    }
                } else {
                    let transformed = self.transformed(value, rule);
                    check(transformed.bytes(), &mut found);
                }
            }
            found
        };
        if matches.is_empty() {
            return false;
        }
        for (name, value, captures) in matches {
            if let Some(c) = &captures {
                self.state.set_captures(c);
            }
            self.state.matched_vars.push((name.clone(), value.clone()));
            self.state.matched_var = Some((name, value));
            self.run_match_actions(rule);
        }
        true
    }

    fn transformed<'v>(&self, whole: &'v Value<'v>, rule: &Rule) -> Transformed<'v> {
        let value = &whole.value;
        let run = |input: &[u8]| -> Option<Vec<u8>> {
            let mut current: Option<Vec<u8>> = None;
            for (_, t) in &rule.actions.transforms {
                let next = t(current.as_deref().unwrap_or(input));
                if next.is_some() {
                    current = next;
                }
            }
            current
        };
        let chain = rule.actions.chain_id;
        match value {
            Cow::Borrowed(v) if chain != 0 && !whole.is_state() => {
                let key = (v.as_ptr() as usize, v.len(), chain);
                if let Some(hit) = self.transform_cache.borrow().get(&key) {
                    return match hit {
                        Some(t) => Transformed::Shared(t.clone()),
                        None => Transformed::Same(v),
                    };
                }
                let result: Option<std::sync::Arc<[u8]>> = run(v).map(Into::into);
                self.transform_cache
                    .borrow_mut()
                    .insert(key, result.clone());
                match result {
                    Some(t) => Transformed::Shared(t),
                    None => Transformed::Same(v),
                }
            }
            _ => match run(value) {
                Some(t) => Transformed::Owned(t),
                None => Transformed::Same(value),
            },
        }
    }

    fn head_has_tag(&self, tag: &str) -> bool {
        self.current_rule.as_ref().is_some_and(|r| r.has_tag(tag))
    }

    /// setvar and ctl of one match.
    fn run_match_actions(&mut self, rule: &Rule) {
        for setvar in &rule.actions.setvars {
            self.setvar(setvar);
        }
        for ctl in &rule.actions.ctls {
            self.apply_ctl(ctl);
        }
    }

    fn setvar(&mut self, setvar: &SetVar) {
        let key: Cow<'_, [u8]> = match setvar.key.literal() {
            Some(k) if !k.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(k.as_bytes()),
            _ => Cow::Owned(self.expand(&setvar.key).to_ascii_lowercase()),
        };
        let value = match &setvar.op {
            SetVarOp::Delete => {
                self.state.vars_mut(&setvar.collection).remove(key.as_ref());
                return;
            }
            SetVarOp::Set(m) => self.expand(m),
            SetVarOp::Add(m) | SetVarOp::Sub(m) => {
                let delta = parse_number(&self.expand(m));
                let vars = self.state.vars_mut(&setvar.collection);
                let current = vars.get(key.as_ref()).map(|v| parse_number(v)).unwrap_or(0);
                let next = if matches!(setvar.op, SetVarOp::Add(_)) {
                    current.saturating_add(delta)
                } else {
                    current.saturating_sub(delta)
                };
                next.to_string().into_bytes()
            }
        };
        let vars = self.state.vars_mut(&setvar.collection);
        match vars.get_mut(key.as_ref()) {
            Some(slot) => *slot = value,
            None => {
                vars.insert(key.into_owned(), value);
            }
        }
    }

    pub(super) fn apply_ctl(&mut self, ctl: &Ctl) {
        match ctl {
            Ctl::RuleRemoveById(ranges) => self.removals.push(Removal::ById(ranges.clone())),
            Ctl::RuleRemoveByTag(tag) => self.removals.push(Removal::ByTag(tag.clone())),
            Ctl::RuleRemoveTargetById(ranges, t) => self
                .removals
                .push(Removal::TargetById(ranges.clone(), t.clone())),
            Ctl::RuleRemoveTargetByTag(tag, t) => self
                .removals
                .push(Removal::TargetByTag(tag.clone(), t.clone())),
            Ctl::RuleEngine(mode) => self.mode = *mode,
            Ctl::RequestBodyProcessor(p) => self.req.processor = Some(*p),
            Ctl::RequestBodyAccess(on) => self.body_access = *on,
            Ctl::ForceRequestBodyVariable(on) => self.force_body_variable = *on,
            Ctl::Ignored => {}
        }
    }

    /// Expands `%{…}` with the first value of each variable (empty if unset).
    pub(super) fn expand(&self, m: &Macro) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &m.parts {
            match part {
                Part::Literal(s) => out.extend_from_slice(s.as_bytes()),
                Part::Var { collection, key } => {
                    if collection == "TX"
                        && let Some(k) = key
                    {
                        if let Some(v) = self.state.tx_value(k.as_bytes()) {
                            out.extend_from_slice(v);
                        }
                        continue;
                    }
                    self.expand_var(collection, key.as_deref(), &mut out);
                }
            }
        }
        out
    }

    fn expand_var(&self, collection: &str, key: Option<&str>, out: &mut Vec<u8>) {
        use crate::waf::rule::{Collection, Selector, Target};
        let Some(collection) = Collection::from_name(collection) else {
            return;
        };
        // The macro's key is lower-cased at parse (XPath keys are not macros).
        let selector = match key {
            Some(k) if collection.is_keyed() => Selector::Key(k.to_string()),
            Some(_) => return,
            None => Selector::All,
        };
        let target = Target {
            collection,
            selector,
            count: false,
        };
        let sources = Sources {
            req: &self.req,
            resp: &self.resp,
            state: &self.state,
        };
        let mut values = Vec::new();
        sources.collect(&target, &mut values);
        if let Some(v) = values.first() {
            out.extend_from_slice(&v.value);
        }
    }
}

/// A value after its rule's transformations.
enum Transformed<'v> {
    Same(&'v [u8]),
    Shared(std::sync::Arc<[u8]>),
    Owned(Vec<u8>),
}

impl Transformed<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Same(v) => v,
            Self::Shared(v) => v,
            Self::Owned(v) => v,
        }
    }
}

/// ModSecurity's numeric reading of a variable: leading integer, else 0.
pub fn parse_number(v: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(v);
    let text = text.trim();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    text[..end].parse().unwrap_or(0)
}
