//! Stage 5: the policy chain (listener policies, then route policies, in order).
//!
//! Every policy kind is a variant of [`PolicyKind`] with one `evaluate` that
//! returns a [`Decision`]; the chain runs them in configured order and stops
//! at the first rejection. Order is part of the security model: a cheap
//! network-level deny (ip_filter) should come before costly checks.
pub mod chain;
pub mod deny_list;
pub mod ip_filter;

use std::sync::Arc;

use crate::http::reject::Rejection;
use crate::listener::client_ip::ClientIp;

pub use chain::PolicyChain;

/// What the request looks like to a policy.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub client_ip: ClientIp,
    /// The verified client certificate on an mTLS listener.
    pub client_cert: Option<&'a crate::tls::identity::ClientIdentity>,
    pub method: &'a http::Method,
    pub host: &'a str,
    pub path: &'a str,
    pub headers: &'a http::HeaderMap,
}

/// The outcome of one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Continue,
    Reject(Rejection),
}

/// A named policy compiled from its spec.
#[derive(Debug)]
pub struct Policy {
    pub name: Arc<str>,
    pub kind: PolicyKind,
}

#[derive(Debug)]
pub enum PolicyKind {
    IpFilter(ip_filter::IpFilter),
}

impl Policy {
    pub fn evaluate(&self, input: &PolicyInput<'_>) -> Decision {
        match &self.kind {
            PolicyKind::IpFilter(filter) => match filter.check(input.client_ip) {
                crate::config::spec::FilterAction::Allow => Decision::Continue,
                crate::config::spec::FilterAction::Deny => Decision::Reject(Rejection::Forbidden {
                    policy: Arc::clone(&self.name),
                    reason: "ip_denied",
                }),
            },
        }
    }
}
