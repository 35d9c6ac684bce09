//! An ordered list of policies evaluated for one route on one listener.

use std::sync::Arc;

use crate::policy::{Decision, Extras, Policy, PolicyInput};

/// Listener policies followed by route policies, in configured order.
#[derive(Debug, Default, Clone)]
pub struct PolicyChain {
    policies: Vec<Arc<Policy>>,
}

impl PolicyChain {
    pub fn new(policies: Vec<Arc<Policy>>) -> Self {
        Self { policies }
    }

    /// Runs the chain; the first rejection wins and later policies don't run.
    /// Dry-run notes and in-flight permits are left in `extras`.
    pub async fn evaluate(&self, input: &PolicyInput<'_>, extras: &mut Extras) -> Decision {
        for policy in &self.policies {
            let decision = policy.evaluate(input, extras).await;
            if decision != Decision::Continue {
                return decision;
            }
        }
        Decision::Continue
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| &*p.name)
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}
