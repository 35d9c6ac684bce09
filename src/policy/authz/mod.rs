//! `authz`: ordered authorization rules over the principal and the request;
//! the first rule that matches decides, and no match means the policy's
//! default (deny unless configured otherwise). Any doubt denies: a CEL
//! error makes an `allow` rule not match (and a `deny` rule match).

pub mod cel;
pub mod cel_native;
mod rule;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::spec::FilterAction;
use crate::config::spec_authz::AuthzSpec;
use crate::policy::PolicyInput;

pub use rule::Rule;

#[derive(Debug, Default)]
pub struct AuthzCounters {
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub errors: AtomicU64,
}

/// A compiled `authz` policy.
#[derive(Debug)]
pub struct Authz {
    rules: Vec<Rule>,
    default: FilterAction,
    /// Whether any rule looks at the principal (then an anonymous denial
    /// is 401, asking for credentials, rather than 403).
    reads_principal: bool,
    pub counters: AuthzCounters,
}

/// The decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Denied by this rule (`default` when no rule matched).
    Deny(Arc<str>),
}

impl Authz {
    pub fn compile(spec: &AuthzSpec) -> Result<Self, String> {
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (i, r) in spec.rules.iter().enumerate() {
            rules.push(Rule::compile(r).map_err(|e| format!("rules[{i}]: {e}"))?);
        }
        let reads_principal = rules.iter().any(Rule::reads_principal);
        Ok(Self {
            rules,
            default: spec.default,
            reads_principal,
            counters: AuthzCounters::default(),
        })
    }

    pub fn reads_principal(&self) -> bool {
        self.reads_principal
    }

    pub fn decide(&self, input: &PolicyInput<'_>) -> Verdict {
        for rule in &self.rules {
            let matched = match rule.matches(input) {
                Ok(m) => m,
                Err(e) => {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(rule = %rule.name, error = %e, "authorization rule failed; treated as deny");
                    // Fail closed: an allow that cannot be judged does not
                    // allow; a deny that cannot be judged denies.
                    rule.action == FilterAction::Deny
                }
            };
            if matched {
                return self.count(match rule.action {
                    FilterAction::Allow => Verdict::Allow,
                    FilterAction::Deny => Verdict::Deny(Arc::clone(&rule.name)),
                });
            }
        }
        self.count(match self.default {
            FilterAction::Allow => Verdict::Allow,
            FilterAction::Deny => Verdict::Deny(Arc::from("default")),
        })
    }

    fn count(&self, verdict: Verdict) -> Verdict {
        let counter = match verdict {
            Verdict::Allow => &self.counters.allowed,
            Verdict::Deny(_) => &self.counters.denied,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        verdict
    }
}
