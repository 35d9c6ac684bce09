//! An ordered list of policies evaluated for one route on one listener, in
//! phases. What each phase needs (its policies, the body budgets) is worked
//! out once when the chain is compiled, so a request whose chain has no body
//! or response policies pays nothing for those phases.

use std::sync::Arc;

use crate::policy::{BodyBudget, Decision, Phases, Policy, PolicyInput, RequestContext};

/// Listener policies followed by route policies, in configured order.
#[derive(Debug, Default, Clone)]
pub struct PolicyChain {
    policies: Vec<Arc<Policy>>,
    phases: Phases,
    request_body: Option<BodyBudget>,
    response_body: Option<BodyBudget>,
}

impl PolicyChain {
    pub fn new(policies: Vec<Arc<Policy>>) -> Self {
        let mut phases = Phases::default();
        let mut request_body: Option<BodyBudget> = None;
        let mut response_body: Option<BodyBudget> = None;
        for policy in &policies {
            let p = policy.phases();
            phases = phases.union(p);
            if p.contains(Phases::REQUEST_BODY)
                && let Some(b) = policy.request_body_budget()
            {
                request_body = Some(request_body.map_or(b, |a| a.merge(b)));
            }
            if p.contains(Phases::RESPONSE_BODY)
                && let Some(b) = policy.response_body_budget()
            {
                response_body = Some(response_body.map_or(b, |a| a.merge(b)));
            }
        }
        Self {
            policies,
            phases,
            request_body,
            response_body,
        }
    }

    /// Every phase some policy of the chain runs in.
    pub fn phases(&self) -> Phases {
        self.phases
    }

    /// The request-body budget, when a policy inspects the request body.
    pub fn request_body_budget(&self) -> Option<BodyBudget> {
        self.request_body
    }

    /// The response-body budget, when a policy inspects the response body.
    pub fn response_body_budget(&self) -> Option<BodyBudget> {
        self.response_body
    }

    fn in_phase(&self, phase: Phases) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies
            .iter()
            .filter(move |p| p.phases().contains(phase))
    }

    /// The request-head phase; the first rejection wins and later policies
    /// don't run. Each policy sees the principal earlier ones attached.
    pub async fn request_head(
        &self,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
    ) -> Decision {
        for policy in self.in_phase(Phases::REQUEST_HEAD) {
            // A clone of the `Arc`, so the policy may write to `ctx` while
            // reading the principal through its input.
            let principal = ctx.principal.clone();
            let input = PolicyInput {
                principal: principal.as_deref(),
                ..*input
            };
            let decision = policy.request_head(&input, ctx).await;
            if decision != Decision::Continue {
                return decision;
            }
        }
        Decision::Continue
    }

    /// The request-body phase, once the body is buffered within the budget.
    pub async fn request_body(
        &self,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        body: &[u8],
        complete: bool,
    ) -> Decision {
        for policy in self.in_phase(Phases::REQUEST_BODY) {
            let principal = ctx.principal.clone();
            let input = PolicyInput {
                principal: principal.as_deref(),
                ..*input
            };
            let seen = match policy.request_body_budget() {
                Some(b) => &body[..body.len().min(b.max_bytes)],
                None => body,
            };
            let whole = complete && seen.len() == body.len();
            let decision = policy.request_body(&input, ctx, seen, whole).await;
            if decision != Decision::Continue {
                return decision;
            }
        }
        Decision::Continue
    }

    /// The response-head phase, on a backend's answer.
    pub fn response_head(
        &self,
        ctx: &mut RequestContext,
        response: &mut http::response::Parts,
    ) -> Decision {
        for policy in self.in_phase(Phases::RESPONSE_HEAD) {
            let decision = policy.response_head(ctx, response);
            if decision != Decision::Continue {
                return decision;
            }
        }
        Decision::Continue
    }

    /// Whether some response-body policy wants this response's body (the
    /// others stream through unbuffered).
    pub fn wants_response_body(&self, ctx: &RequestContext) -> bool {
        self.in_phase(Phases::RESPONSE_BODY)
            .any(|p| p.wants_response_body(ctx))
    }

    /// The response-body phase, once the body is buffered within the budget.
    pub fn response_body(
        &self,
        ctx: &mut RequestContext,
        response: &http::response::Parts,
        body: &[u8],
        complete: bool,
    ) -> Decision {
        for policy in self.in_phase(Phases::RESPONSE_BODY) {
            let seen = match policy.response_body_budget() {
                Some(b) => &body[..body.len().min(b.max_bytes)],
                None => body,
            };
            let whole = complete && seen.len() == body.len();
            let decision = policy.response_body(ctx, response, seen, whole);
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
