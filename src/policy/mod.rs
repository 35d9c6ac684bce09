//! The policy chain (listener policies, then route policies, in order), run
//! in phases: request head, request body, response head, response body.
//!
//! Every policy kind is a variant of [`PolicyKind`]; in each phase it runs in
//! it returns a [`Decision`], reading the request through [`PolicyInput`] and
//! writing to the request's [`RequestContext`] (principal, header edits,
//! permits, notes). The chain stops at the first rejection. Order is part of
//! the security model (see docs/architecture.md): a cheap network-level deny
//! (ip_filter) should come before costly checks, and `config::validate`
//! refuses a chain where a policy that reads the principal runs before any
//! authentication policy.
pub mod authn;
pub mod authz;
pub mod chain;
pub mod compile;
pub mod context;
pub mod deny_list;
pub mod inflight;
pub mod ip_filter;
pub mod principal;
pub mod rate_limit;
pub mod threat_feed;
pub mod waf;

use std::sync::Arc;

use crate::http::reject::Rejection;
use crate::listener::client_ip::ClientIp;

pub use chain::PolicyChain;
pub use context::{BodyBudget, Phases, RequestContext};
pub use principal::Principal;

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
    /// The request target as received (origin form), for policies that
    /// inspect it raw (the WAF's `REQUEST_URI_RAW`).
    pub target: &'a str,
    pub version: http::Version,
    pub headers: &'a http::HeaderMap,
    /// The matched route's name (for route-scoped limits and keys).
    pub route: &'a str,
    /// Who the request is, once an authentication policy earlier in the
    /// chain proved it.
    pub principal: Option<&'a Principal>,
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
    Jwt(Arc<authn::jwt::Jwt>),
    Authz(authz::Authz),
    ApiKey(authn::api_key::ApiKey),
    Basic(authn::basic::Basic),
    External(authn::external::External),
    ThreatFeed(threat_feed::ThreatFeed),
    Mtls(authn::mtls::Mtls),
    Oidc(Arc<authn::oidc::Oidc>),
    Introspection(Arc<authn::introspection::Introspection>),
    Waf(Arc<waf::Waf>),
}

impl Policy {
    /// The phases this policy runs in.
    pub fn phases(&self) -> Phases {
        match &self.kind {
            PolicyKind::IpFilter(_)
            | PolicyKind::RateLimit(_)
            | PolicyKind::Inflight(_)
            | PolicyKind::Jwt(_)
            | PolicyKind::Authz(_)
            | PolicyKind::ApiKey(_)
            | PolicyKind::Basic(_)
            | PolicyKind::Oidc(_)
            | PolicyKind::Introspection(_)
            | PolicyKind::ThreatFeed(_)
            | PolicyKind::Mtls(_) => Phases::REQUEST_HEAD,
            // With the body it decides once the body is buffered.
            PolicyKind::External(e) if e.body_budget().is_some() => Phases::REQUEST_BODY,
            PolicyKind::Waf(w) => {
                let mut phases = Phases::REQUEST_HEAD
                    .union(Phases::REQUEST_BODY)
                    .union(Phases::RESPONSE_HEAD);
                if w.response_body_budget().is_some() {
                    phases = phases.union(Phases::RESPONSE_BODY);
                }
                phases
            }
            PolicyKind::External(_) => Phases::REQUEST_HEAD,
        }
    }

    /// How much of the request body the policy reads before deciding (only
    /// for policies in the request-body phase).
    pub fn request_body_budget(&self) -> Option<BodyBudget> {
        match &self.kind {
            PolicyKind::External(e) => e.body_budget(),
            // Phase 2 runs on every request (CRS rules read the query there
            // too); an empty budget buffers nothing.
            PolicyKind::Waf(w) => Some(w.request_body_budget().unwrap_or(BodyBudget {
                max_bytes: 0,
                inspect_partial: true,
            })),
            _ => None,
        }
    }

    /// How much of the response body the policy reads (response-body phase).
    pub fn response_body_budget(&self) -> Option<BodyBudget> {
        match &self.kind {
            PolicyKind::Waf(w) => w.response_body_budget(),
            _ => None,
        }
    }

    /// Whether the policy wants this response's body buffered (a WAF
    /// inspects only listed media types; other bodies stream through).
    pub fn wants_response_body(&self, ctx: &RequestContext) -> bool {
        match &self.kind {
            PolicyKind::Waf(_) => ctx.waf.as_ref().is_some_and(|w| w.wants_response_body()),
            _ => true,
        }
    }

    /// Whether the policy authenticates (attaches a principal).
    pub fn authenticates(&self) -> bool {
        matches!(
            self.kind,
            PolicyKind::Jwt(_)
                | PolicyKind::ApiKey(_)
                | PolicyKind::Basic(_)
                | PolicyKind::External(_)
                | PolicyKind::Oidc(_)
                | PolicyKind::Introspection(_)
                | PolicyKind::Mtls(_)
        )
    }

    /// Whether the policy reads the principal, so an authentication policy
    /// must run before it.
    pub fn reads_principal(&self) -> bool {
        match &self.kind {
            PolicyKind::RateLimit(limit) => limit.reads_principal(),
            PolicyKind::Authz(authz) => authz.reads_principal(),
            PolicyKind::IpFilter(_)
            | PolicyKind::Inflight(_)
            | PolicyKind::Jwt(_)
            | PolicyKind::ApiKey(_)
            | PolicyKind::Basic(_)
            | PolicyKind::External(_)
            | PolicyKind::Oidc(_)
            | PolicyKind::Introspection(_)
            | PolicyKind::ThreatFeed(_)
            | PolicyKind::Mtls(_)
            | PolicyKind::Waf(_) => false,
        }
    }

    /// The request-body phase: `body` is what the policy's budget let it
    /// see, `complete` whether that is the whole body. Async because a
    /// policy may call out (external authorization with the body).
    pub async fn request_body(
        &self,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        body: &[u8],
        _complete: bool,
    ) -> Decision {
        match &self.kind {
            PolicyKind::External(external) => self.external(external, input, ctx, Some(body)).await,
            PolicyKind::Waf(_) => match ctx.waf.as_mut() {
                Some(request) => request.request_body(body),
                None => Decision::Continue,
            },
            // The chain calls this only for kinds whose `phases` include the
            // request body; every other kind has nothing to do here.
            _ => Decision::Continue,
        }
    }

    async fn external(
        &self,
        external: &authn::external::External,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        body: Option<&[u8]>,
    ) -> Decision {
        match external
            .check(&self.name, input, ctx, body, authn::unix_now())
            .await
        {
            authn::external::Outcome::Allow(principal) => {
                if let Some(p) = principal {
                    ctx.authenticate(p);
                }
                Decision::Continue
            }
            authn::external::Outcome::Deny(rejection) => Decision::Reject(rejection),
        }
    }

    /// The response-head phase: the policy may read and edit the head.
    pub fn response_head(
        &self,
        ctx: &mut RequestContext,
        response: &mut http::response::Parts,
    ) -> Decision {
        // Only the WAF declares this phase; the chain calls it only for
        // kinds whose `phases` include it.
        match (&self.kind, ctx.waf.as_mut()) {
            (PolicyKind::Waf(_), Some(request)) => request.response_head(response),
            _ => Decision::Continue,
        }
    }

    /// The response-body phase (buffered within the policy's budget).
    pub fn response_body(
        &self,
        ctx: &mut RequestContext,
        _response: &http::response::Parts,
        body: &[u8],
        _complete: bool,
    ) -> Decision {
        match (&self.kind, ctx.waf.as_mut()) {
            (PolicyKind::Waf(_), Some(request)) => request.response_body(body),
            _ => Decision::Continue,
        }
    }

    /// The request-head phase. Async because a policy may hold the request
    /// (rate-limit delay mode, in-flight queue); the ip_filter arm never
    /// awaits and allocates nothing.
    pub async fn request_head(
        &self,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
    ) -> Decision {
        match &self.kind {
            PolicyKind::Inflight(limit) => match limit.acquire(input).await {
                Some(permit) => {
                    ctx.permits.push(permit);
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
                        ctx.note = Some((Arc::clone(&self.name), "rate_limited_dry_run"));
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
            PolicyKind::Jwt(jwt) => {
                use authn::jwt::Outcome;
                match jwt
                    .authenticate(&self.name, input, ctx, authn::unix_now())
                    .await
                {
                    Outcome::Authenticated(principal) => {
                        ctx.authenticate(principal);
                        Decision::Continue
                    }
                    Outcome::Anonymous => Decision::Continue,
                    Outcome::Failed(reason) => {
                        Decision::Reject(authn::bearer_unauthorized(&self.name, reason))
                    }
                }
            }
            PolicyKind::ApiKey(keys) => match keys.authenticate(input, ctx) {
                authn::api_key::Outcome::Authenticated(principal) => {
                    ctx.authenticate(principal);
                    Decision::Continue
                }
                authn::api_key::Outcome::Failed(reason) => {
                    Decision::Reject(authn::unauthorized(&self.name, reason, "ApiKey"))
                }
            },
            PolicyKind::Basic(basic) => {
                match basic.authenticate(input, ctx, authn::unix_now()).await {
                    authn::basic::Outcome::Authenticated(principal) => {
                        ctx.authenticate(principal);
                        Decision::Continue
                    }
                    authn::basic::Outcome::Failed(reason) => Decision::Reject(
                        authn::unauthorized(&Arc::from(basic.spec.realm.as_str()), reason, "Basic")
                            .with_policy(&self.name),
                    ),
                }
            }
            PolicyKind::External(external) => self.external(external, input, ctx, None).await,
            PolicyKind::Oidc(oidc) => {
                use authn::oidc::Outcome;
                match oidc
                    .authenticate(&self.name, input, ctx, authn::unix_now())
                    .await
                {
                    Outcome::Authenticated(principal) => {
                        ctx.authenticate(principal);
                        Decision::Continue
                    }
                    Outcome::AlreadyAuthenticated => Decision::Continue,
                    Outcome::Answer(answer) => Decision::Reject(answer),
                }
            }
            PolicyKind::Introspection(intro) => {
                use authn::introspection::Outcome;
                match intro
                    .authenticate(&self.name, input, ctx, authn::unix_now())
                    .await
                {
                    Outcome::Authenticated(principal) => {
                        ctx.authenticate(principal);
                        Decision::Continue
                    }
                    Outcome::FailedOpen => {
                        ctx.note = Some((Arc::clone(&self.name), "introspection_failed_open"));
                        Decision::Continue
                    }
                    Outcome::Failed(reason) => {
                        Decision::Reject(authn::bearer_unauthorized(&self.name, reason))
                    }
                    Outcome::Unavailable => Decision::Reject(Rejection::AuthUnavailable {
                        policy: Arc::clone(&self.name),
                        reason: "introspection_unavailable",
                    }),
                }
            }
            PolicyKind::Authz(authz) => match authz.decide(input) {
                authz::Verdict::Allow => Decision::Continue,
                // Anonymous and refused by rules that look at who it is:
                // ask for credentials rather than forbid.
                authz::Verdict::Deny(_) if input.principal.is_none() && authz.reads_principal() => {
                    Decision::Reject(authn::bearer_unauthorized(
                        &self.name,
                        "authentication_required",
                    ))
                }
                authz::Verdict::Deny(rule) => Decision::Reject(Rejection::Denied {
                    policy: Arc::clone(&self.name),
                    rule,
                }),
            },
            PolicyKind::Mtls(mtls) => match mtls.authenticate(&self.name, input.client_cert) {
                authn::mtls::Outcome::Authenticated(principal) => {
                    ctx.authenticate(principal);
                    Decision::Continue
                }
                authn::mtls::Outcome::Anonymous => Decision::Continue,
                authn::mtls::Outcome::Failed(reason) => {
                    Decision::Reject(authn::unauthorized(&self.name, reason, "Certificate"))
                }
            },
            PolicyKind::ThreatFeed(feeds) => match feeds.check(input.client_ip) {
                None => Decision::Continue,
                Some(_) if feeds.action() == crate::config::spec_feeds::FeedAction::Tag => {
                    ctx.note = Some((Arc::clone(&self.name), "threat_feed_tagged"));
                    Decision::Continue
                }
                Some(_) => Decision::Reject(Rejection::Forbidden {
                    policy: Arc::clone(&self.name),
                    reason: "threat_feed",
                }),
            },
            PolicyKind::Waf(waf) => waf.request_head(&self.name, input, ctx),
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
