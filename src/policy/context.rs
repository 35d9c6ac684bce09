//! The per-request context the policy chain fills and reads (`&mut` through
//! every phase): the principal, header edits for the upstream request and
//! the response, in-flight permits held until the body ends, notes for the
//! access record, typed per-policy state carried between phases, and the
//! WAF's transaction.
//!
//! The read-only view of the request head is [`PolicyInput`]; it is built
//! from the request and this context for each policy, so a later policy
//! sees the principal an earlier one attached.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::policy::inflight::InflightPermit;
use crate::policy::principal::Principal;

/// The phases a policy can run in, in the order the pipeline runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases(u8);

impl Phases {
    pub const REQUEST_HEAD: Phases = Phases(1);
    /// Runs once the request body is buffered (within the policy's budget).
    pub const REQUEST_BODY: Phases = Phases(2);
    pub const RESPONSE_HEAD: Phases = Phases(4);
    /// Runs once the response body is buffered (within the policy's budget).
    pub const RESPONSE_BODY: Phases = Phases(8);

    pub const fn union(self, other: Phases) -> Phases {
        Phases(self.0 | other.0)
    }

    pub const fn contains(self, other: Phases) -> bool {
        self.0 & other.0 == other.0
    }
}

/// How much of a body a policy wants to see before it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyBudget {
    /// Bytes buffered at most; the body is never held beyond this.
    pub max_bytes: usize,
    /// Past the budget: inspect what fits and pass the rest unseen
    /// (`true`), or reject the request with 413 (`false`).
    pub inspect_partial: bool,
}

impl BodyBudget {
    /// The budget that satisfies both (the larger buffer; partial only if
    /// both accept partial inspection).
    pub fn merge(self, other: BodyBudget) -> BodyBudget {
        BodyBudget {
            max_bytes: self.max_bytes.max(other.max_bytes),
            inspect_partial: self.inspect_partial && other.inspect_partial,
        }
    }
}

/// One change to a header map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replace every value of the name.
    Set(HeaderName, HeaderValue),
    /// Append a value, keeping existing ones.
    Add(HeaderName, HeaderValue),
    Remove(HeaderName),
}

/// Edits applied in order to a header map (the upstream request's or the
/// response's). Empty costs nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits(Vec<HeaderEdit>);

impl HeaderEdits {
    pub fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push(HeaderEdit::Set(name, value));
    }

    pub fn add(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push(HeaderEdit::Add(name, value));
    }

    pub fn remove(&mut self, name: HeaderName) {
        self.0.push(HeaderEdit::Remove(name));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        for edit in &self.0 {
            match edit {
                HeaderEdit::Set(name, value) => {
                    headers.insert(name.clone(), value.clone());
                }
                HeaderEdit::Add(name, value) => {
                    headers.append(name.clone(), value.clone());
                }
                HeaderEdit::Remove(name) => {
                    headers.remove(name);
                }
            }
        }
    }
}

/// The outcome of authentication, for the access log and security events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthNote {
    pub policy_index: usize,
    /// `ok`, `anonymous`, or a failure reason (`token_expired`, ...).
    pub result: &'static str,
}

/// Everything the chain accumulates for one request.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// Set by the first authentication policy that succeeds.
    pub principal: Option<Arc<Principal>>,
    /// Applied to the request sent upstream (after forwarding headers).
    pub upstream_headers: HeaderEdits,
    /// Applied to the response sent to the client.
    pub response_headers: HeaderEdits,
    /// In-flight places, held until the response body ends.
    pub permits: Vec<InflightPermit>,
    /// A policy that matched but let the request through (dry-run, optional
    /// authentication): logged as the request's policy and reason.
    pub note: Option<(Arc<str>, &'static str)>,
    /// Typed state a policy keeps between its phases; no allocation until
    /// a policy stores something.
    pub state: http::Extensions,
    /// The WAF transaction between its phases (at most one `waf` policy
    /// applies to a request; validation refuses two in one chain).
    pub waf: Option<Box<crate::policy::waf::WafRequest>>,
}

impl RequestContext {
    /// Attaches the authenticated principal. The first one wins: a later
    /// authentication policy cannot replace who an earlier one proved.
    pub fn authenticate(&mut self, principal: Arc<Principal>) {
        if self.principal.is_none() {
            self.principal = Some(principal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("1"));
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        let mut edits = HeaderEdits::default();
        edits.add(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("2"),
        );
        edits.remove(http::header::AUTHORIZATION);
        edits.set(
            HeaderName::from_static("x-user"),
            HeaderValue::from_static("alice"),
        );
        edits.apply(&mut headers);
        assert_eq!(headers.get_all("x-a").iter().count(), 2);
        assert!(!headers.contains_key("authorization"));
        assert_eq!(headers["x-user"], "alice");
    }

    #[test]
    fn phases_and_budgets() {
        let p = Phases::REQUEST_HEAD.union(Phases::REQUEST_BODY);
        assert!(p.contains(Phases::REQUEST_BODY));
        assert!(!p.contains(Phases::RESPONSE_HEAD));
        let a = BodyBudget {
            max_bytes: 10,
            inspect_partial: true,
        };
        let b = BodyBudget {
            max_bytes: 20,
            inspect_partial: false,
        };
        assert_eq!(a.merge(b).max_bytes, 20);
        assert!(!a.merge(b).inspect_partial);
    }

    #[test]
    fn first_principal_wins() {
        let mut ctx = RequestContext::default();
        let p1 = Arc::new(Principal::new(
            crate::policy::principal::AuthMethod::Jwt,
            "a".into(),
            "u1",
        ));
        let p2 = Arc::new(Principal::new(
            crate::policy::principal::AuthMethod::ApiKey,
            "b".into(),
            "u2",
        ));
        ctx.authenticate(p1);
        ctx.authenticate(p2);
        assert_eq!(
            ctx.principal.as_ref().map(|p| p.subject.as_str()),
            Some("u1")
        );
    }
}
