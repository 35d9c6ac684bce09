//! Spec → runtime for every policy kind, in one place above the policies,
//! so `config` never needs to know how a policy is built. Stateful kinds
//! reuse the previous generation's runtime when their spec is unchanged
//! (rate-limit state, fetched key sets and caches survive a reload).

use crate::config::spec::PolicyKindSpec;
use crate::policy::ip_filter::IpFilter;
use crate::policy::{PolicyKind, authn, authz, inflight, rate_limit};

pub fn compile(
    spec: PolicyKindSpec<'_>,
    previous: Option<&PolicyKind>,
) -> Result<PolicyKind, String> {
    Ok(match spec {
        PolicyKindSpec::IpFilter(s) => PolicyKind::IpFilter(IpFilter::compile(s)?),
        PolicyKindSpec::RateLimit(s) => {
            PolicyKind::RateLimit(rate_limit::reuse_or_compile(previous, s)?)
        }
        PolicyKindSpec::Inflight(s) => {
            PolicyKind::Inflight(inflight::reuse_or_compile(previous, s)?)
        }
        PolicyKindSpec::Jwt(s) => PolicyKind::Jwt(authn::jwt::reuse_or_compile(previous, s)?),
        PolicyKindSpec::Authz(s) => PolicyKind::Authz(authz::Authz::compile(s)?),
        PolicyKindSpec::Oidc(s) => PolicyKind::Oidc(authn::oidc::reuse_or_compile(previous, s)?),
        PolicyKindSpec::Introspection(s) => {
            PolicyKind::Introspection(authn::introspection::reuse_or_compile(previous, s)?)
        }
    })
}
