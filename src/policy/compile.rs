//! Spec → runtime for every policy kind, in one place above the policies,
//! so `config` never needs to know how a policy is built. Stateful kinds
//! reuse the previous generation's runtime when their spec is unchanged
//! (rate-limit state, fetched key sets and caches survive a reload).

use crate::config::spec::PolicyKindSpec;
use crate::policy::ip_filter::IpFilter;
use crate::policy::{PolicyKind, authn, authz, inflight, rate_limit};

/// What compiling a policy may need besides its spec: shared stores and
/// the configured feeds.
#[derive(Clone, Copy)]
pub struct CompileEnv<'a> {
    pub shared: &'a crate::state::SharedState,
    pub feeds: &'a [crate::config::spec_feeds::FeedSpec],
}

pub fn compile(
    name: &str,
    spec: PolicyKindSpec<'_>,
    previous: Option<&PolicyKind>,
    env: CompileEnv<'_>,
) -> Result<PolicyKind, String> {
    Ok(match spec {
        PolicyKindSpec::IpFilter(s) => PolicyKind::IpFilter(IpFilter::compile(s)?),
        PolicyKindSpec::RateLimit(s) => {
            PolicyKind::RateLimit(rate_limit::reuse_or_compile(previous, name, s, env.shared)?)
        }
        PolicyKindSpec::Inflight(s) => {
            PolicyKind::Inflight(inflight::reuse_or_compile(previous, s)?)
        }
        PolicyKindSpec::Jwt(s) => PolicyKind::Jwt(authn::jwt::reuse_or_compile(previous, s)?),
        PolicyKindSpec::Authz(s) => PolicyKind::Authz(authz::Authz::compile(s)?),
        PolicyKindSpec::ApiKey(s) => PolicyKind::ApiKey(authn::api_key::ApiKey::compile(name, s)?),
        PolicyKindSpec::Basic(s) => PolicyKind::Basic(authn::basic::Basic::compile(name, s)?),
        PolicyKindSpec::External(s) => PolicyKind::External(authn::external::External::compile(s)?),
        PolicyKindSpec::Mtls(s) => PolicyKind::Mtls(authn::mtls::Mtls::compile(s)),
        PolicyKindSpec::ThreatFeed(s) => PolicyKind::ThreatFeed(
            crate::policy::threat_feed::ThreatFeed::compile(s, env.feeds, &env.shared.feeds)?,
        ),
        PolicyKindSpec::Oidc(s) => PolicyKind::Oidc(authn::oidc::reuse_or_compile(previous, s)?),
        PolicyKindSpec::Introspection(s) => {
            PolicyKind::Introspection(authn::introspection::reuse_or_compile(previous, s)?)
        }
        PolicyKindSpec::Waf(s) => {
            PolicyKind::Waf(crate::policy::waf::Waf::reuse_or_compile(previous, s)?)
        }
    })
}
