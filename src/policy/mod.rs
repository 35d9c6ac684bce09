//! Stage 5: the policy chain (listener policies, then route policies, in order).
//!
//! Every policy kind is a variant of [`PolicyKind`] with one `evaluate` that
//! returns a [`Decision`]; the chain runs them in configured order and stops
//! at the first rejection. Order is part of the security model: a cheap
//! network-level deny (ip_filter) should come before costly checks.
pub mod chain;
pub mod deny_list;
pub mod inflight;
pub mod ip_filter;
pub mod rate_limit;
pub mod threat_feed;

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
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// The matched route's name (for route-scoped limits and keys).
    pub route: &'a str,
}

/// What policies hand back besides their decision.
#[derive(Debug, Default)]
pub struct Extras {
    /// A policy that matched but let the request through (dry-run): logged
    /// as the request's policy and reason.
    pub note: Option<(Arc<str>, &'static str)>,
    /// In-flight places, held until the response body ends (empty, so no
    /// allocation, unless an `inflight` policy ran).
    pub permits: Vec<inflight::InflightPermit>,
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

// One per policy per config generation, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum PolicyKind {
    IpFilter(ip_filter::IpFilter),
    /// Shared (`Arc`) so an unchanged policy keeps its state across reloads.
    RateLimit(Arc<rate_limit::RateLimit>),
    Inflight(Arc<inflight::Inflight>),
    ThreatFeed(threat_feed::ThreatFeed),
}

impl Policy {
    /// Async because a policy may hold the request (rate-limit delay mode);
    /// the ip_filter arm never awaits and allocates nothing.
    pub async fn evaluate(&self, input: &PolicyInput<'_>, extras: &mut Extras) -> Decision {
        match &self.kind {
            PolicyKind::Inflight(limit) => match limit.acquire(input).await {
                Some(permit) => {
                    extras.permits.push(permit);
                    Decision::Continue
                }
                None => Decision::Reject(Rejection::Overloaded {
                    policy: Arc::clone(&self.name),
                    retry_after_secs: limit.spec.retry_after,
                }),
            },
            PolicyKind::RateLimit(limit) => {
                use rate_limit::Outcome;
                match limit.decide(input).await {
                    Outcome::Allow => Decision::Continue,
                    Outcome::Delay(wait) => {
                        tokio::time::sleep(wait).await;
                        Decision::Continue
                    }
                    Outcome::DryRunReject => {
                        extras.note = Some((Arc::clone(&self.name), "rate_limited_dry_run"));
                        Decision::Continue
                    }
                    outcome => match limit.rejection(&self.name, outcome) {
                        Some(rejection) => Decision::Reject(rejection),
                        // Fail closed: an outcome without a rejection is a bug.
                        None => Decision::Reject(Rejection::Forbidden {
                            policy: Arc::clone(&self.name),
                            reason: "policy_error",
                        }),
                    },
                }
            }
            PolicyKind::ThreatFeed(feeds) => match feeds.check(input.client_ip) {
                None => Decision::Continue,
                Some(_) if feeds.action() == crate::config::spec_feeds::FeedAction::Tag => {
                    extras.note = Some((Arc::clone(&self.name), "threat_feed_tagged"));
                    Decision::Continue
                }
                Some(_) => Decision::Reject(Rejection::Forbidden {
                    policy: Arc::clone(&self.name),
                    reason: "threat_feed",
                }),
            },
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
