//! Semantic validation of a `GatewayConfig`: names, addresses, references, limits.
//!
//! Serde checks shapes and types; this checks meaning. Every problem is
//! collected (not just the first) so one run shows the user everything.
//! Route matching and direct responses live in `validate_match`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::spec::{
    BackendSpec, GatewayConfig, HashKeySpec, LoadBalancingSpec, PolicyKindSpec,
};
use crate::config::validate_conn_limit;
use crate::config::validate_match;
use crate::config::validate_rate_limit;
use crate::net::cidr_table::parse_cidr;

/// One semantic problem: `field` is a path such as `routes[2].backend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub message: String,
}

/// Collects issues; shared with `validate_match`.
#[derive(Default)]
pub(crate) struct Issues(pub(crate) Vec<Issue>);

impl Issues {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Every semantic problem in `cfg`, in model order (the loader re-sorts them
/// by source position).
pub fn validate(cfg: &GatewayConfig) -> Vec<Issue> {
    let mut out = Issues::default();

    if let Some(admin) = check_address(&mut out, "admin.address", &cfg.admin.address, true) {
        crate::config::validate_admin::check(&mut out, cfg, admin);
    }
    crate::config::validate_logging::check_logging(&mut out, &cfg.logging);
    for (i, cidr) in cfg.server.trusted_proxies.iter().enumerate() {
        if let Err(e) = parse_cidr(cidr) {
            out.push(format!("server.trusted_proxies[{i}]"), e);
        }
    }

    let listeners = names(
        &mut out,
        "listener",
        "listeners",
        cfg.listeners.iter().map(|l| &l.name),
    );
    let backends = names(
        &mut out,
        "backend",
        "backends",
        cfg.backends.iter().map(|b| &b.name),
    );
    let policies = names(
        &mut out,
        "policy",
        "policies",
        cfg.policies.iter().map(|p| &p.name),
    );
    let _routes = names(
        &mut out,
        "route",
        "routes",
        cfg.routes.iter().map(|r| &r.name),
    );

    let mut bound: HashMap<SocketAddr, usize> = HashMap::new();
    for (i, l) in cfg.listeners.iter().enumerate() {
        let base = format!("listeners[{i}]");
        if let Some(addr) = check_address(&mut out, &format!("{base}.address"), &l.address, true) {
            // Port 0 asks the kernel for a fresh port, so it never collides.
            if addr.port() != 0 {
                if let Some(first) = bound.get(&addr) {
                    out.push(
                        format!("{base}.address"),
                        format!(
                            "duplicate listener address \"{addr}\" (first at listeners[{first}])"
                        ),
                    );
                } else {
                    bound.insert(addr, i);
                }
            }
        }
        references(
            &mut out,
            &base,
            "policies",
            "policy",
            &l.policies,
            &policies,
        );
        check_http(&mut out, &base, &l.http);
        validate_conn_limit::check(&mut out, &format!("{base}.connections"), &l.connections);
    }

    for (i, r) in cfg.routes.iter().enumerate() {
        let base = format!("routes[{i}]");
        references(
            &mut out,
            &base,
            "listeners",
            "listener",
            &r.listeners,
            &listeners,
        );
        validate_match::check_match(&mut out, &format!("{base}.match"), &r.matches);
        references(
            &mut out,
            &base,
            "policies",
            "policy",
            &r.policies,
            &policies,
        );
        let known = |name: &str| backends.contains_key(name);
        crate::config::validate_route::check(&mut out, &base, r, &known);
        match (&r.backend, &r.direct_response) {
            (None, None) if r.redirect.is_some() || !r.backends.is_empty() => {}
            (None, None) => out.push(
                &base,
                "route needs one of backend, direct_response or redirect",
            ),
            (Some(_), Some(_)) => out.push(
                &base,
                "route has both backend and direct_response; set only one",
            ),
            (Some(b), None) if !backends.contains_key(b.as_str()) => {
                out.push(format!("{base}.backend"), format!("unknown backend {b:?}"))
            }
            (Some(_), None) => {}
            (None, Some(d)) => validate_match::check_direct_response(
                &mut out,
                &format!("{base}.direct_response"),
                d,
            ),
        }
    }

    for (i, b) in cfg.backends.iter().enumerate() {
        check_backend(&mut out, &format!("backends[{i}]"), b);
    }
    // TLS: files load, keys match, certificates cover route hosts.
    for issue in crate::tls::validate::validate(cfg) {
        out.push(issue.field, issue.message);
    }

    crate::config::validate_redis::check(&mut out, cfg);
    crate::config::validate_feeds::check(&mut out, &cfg.feeds);
    if let Some(r) = &cfg.remediation {
        crate::config::validate_remediation::check(&mut out, r);
    }
    crate::config::validate_anomaly::check(&mut out, cfg);
    for (i, p) in cfg.policies.iter().enumerate() {
        let base = format!("policies[{i}]");
        let kinds = p.kinds();
        if kinds.len() > 1 {
            out.push(&base, "policy has more than one kind; set only one");
            continue;
        }
        let Some(kind) = kinds.first() else {
            out.push(
                &base,
                "policy needs exactly one kind (ip_filter, rate_limit, inflight, jwt, authz, api_key, basic, external, oidc, introspection, mtls, threat_feed, waf)",
            );
            continue;
        };
        let field = format!("{base}.{}", kind.field());
        match *kind {
            PolicyKindSpec::RateLimit(limit) => validate_rate_limit::check(&mut out, &field, limit),
            PolicyKindSpec::Inflight(limit) => {
                validate_rate_limit::check_inflight(&mut out, &field, limit)
            }
            PolicyKindSpec::Jwt(jwt) => {
                crate::config::validate_auth::check_jwt(&mut out, &field, jwt)
            }
            PolicyKindSpec::Authz(a) => {
                crate::config::validate_auth::check_authz(&mut out, &field, a)
            }
            PolicyKindSpec::ApiKey(k) => {
                crate::config::validate_auth::check_api_key(&mut out, &field, k)
            }
            PolicyKindSpec::Basic(b) => {
                crate::config::validate_auth::check_basic(&mut out, &field, b)
            }
            PolicyKindSpec::External(e) => {
                crate::config::validate_auth::check_external(&mut out, &field, e)
            }
            PolicyKindSpec::Mtls(_) => {}
            PolicyKindSpec::Waf(w) => crate::config::validate_waf::check(&mut out, &field, w),
            PolicyKindSpec::ThreatFeed(feed) => {
                crate::config::validate_feeds::check_policy(&mut out, &field, feed, &cfg.feeds)
            }
            PolicyKindSpec::Oidc(o) => {
                crate::config::validate_auth::check_oidc(&mut out, &field, o)
            }
            PolicyKindSpec::Introspection(i) => {
                crate::config::validate_auth::check_introspection(&mut out, &field, i)
            }
            PolicyKindSpec::IpFilter(f) => {
                for (list, cidrs) in [("allow", &f.allow), ("deny", &f.deny)] {
                    for (j, cidr) in cidrs.iter().enumerate() {
                        if let Err(e) = parse_cidr(cidr) {
                            out.push(format!("{field}.{list}[{j}]"), e);
                        }
                    }
                }
                if f.allow.is_empty() && f.deny.is_empty() && f.default.is_none() {
                    out.push(&field, "ip_filter has no rules");
                }
            }
        }
    }
    crate::config::validate_auth::check_chain_order(&mut out, cfg);
    crate::config::validate_waf::check_one_per_chain(&mut out, cfg);

    out.0
}

/// Checks each name's syntax and uniqueness; returns name → first index.
fn names<'a>(
    out: &mut Issues,
    kind: &str,
    list: &str,
    names: impl Iterator<Item = &'a String>,
) -> HashMap<&'a str, usize> {
    let mut seen = HashMap::new();
    for (i, name) in names.enumerate() {
        let field = format!("{list}[{i}].name");
        if name.is_empty() {
            out.push(field, format!("{kind} name must not be empty"));
            continue;
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            out.push(
                field,
                format!("invalid {kind} name {name:?}: use only letters, digits, '.', '_' and '-'"),
            );
            continue;
        }
        if let Some(first) = seen.get(name.as_str()) {
            out.push(
                field,
                format!("duplicate {kind} name {name:?} (first at {list}[{first}])"),
            );
        } else {
            seen.insert(name.as_str(), i);
        }
    }
    seen
}

/// Each `base.list[j]` must name a known `kind`.
fn references(
    out: &mut Issues,
    base: &str,
    list: &str,
    kind: &str,
    refs: &[String],
    known: &HashMap<&str, usize>,
) {
    for (j, name) in refs.iter().enumerate() {
        if !known.contains_key(name.as_str()) {
            out.push(
                format!("{base}.{list}[{j}]"),
                format!("unknown {kind} {name:?}"),
            );
        }
    }
}

/// Parses `IP:port`; hostnames are refused until resolution is designed.
fn check_address(
    out: &mut Issues,
    field: &str,
    text: &str,
    port_zero_ok: bool,
) -> Option<SocketAddr> {
    match text.parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 && !port_zero_ok => {
            out.push(field, format!("{text:?}: port 0 is not allowed here"));
            None
        }
        Ok(addr) => Some(addr),
        Err(_) => {
            let looks_like_name = text.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok()
            });
            if looks_like_name {
                out.push(
                    field,
                    format!(
                        "{text:?} must be IP:port: a listening socket binds an address, not a name"
                    ),
                );
            } else {
                out.push(
                    field,
                    format!(
                        "invalid address {text:?}: must be IP:port, e.g. 0.0.0.0:8080 or [::]:8080"
                    ),
                );
            }
            None
        }
    }
}

fn check_http(out: &mut Issues, base: &str, h: &crate::config::spec::HttpSpec) {
    let f = |name: &str| format!("{base}.http.{name}");
    crate::config::validate_strict::check(out, &format!("{base}.http"), h);
    if !(1024..=1 << 20).contains(&h.max_head_bytes) {
        out.push(f("max_head_bytes"), "must be between 1024 and 1048576");
    }
    if !(1..=1000).contains(&h.max_headers) {
        out.push(f("max_headers"), "must be between 1 and 1000");
    }
    positive_duration(out, f("head_timeout"), h.head_timeout);
    if let Some(rate) = &h.min_body_rate
        && rate.bytes_per_sec == 0
    {
        out.push(f("min_body_rate.bytes_per_sec"), "must be at least 1");
    }
    if !(64..=1 << 20).contains(&h.max_uri_bytes) {
        out.push(f("max_uri_bytes"), "must be between 64 and 1048576");
    }
    for (name, value) in [
        (
            "h2_max_concurrent_streams",
            h.h2_max_concurrent_streams as usize,
        ),
        (
            "h2_max_header_list_bytes",
            h.h2_max_header_list_bytes as usize,
        ),
        ("h2_max_pending_resets", h.h2_max_pending_resets),
    ] {
        if value == 0 {
            out.push(f(name), "must be greater than 0");
        }
    }
}

fn positive_duration(out: &mut Issues, field: String, d: Duration) {
    if d.is_zero() {
        out.push(field, "must be greater than 0");
    }
}

fn check_backend(out: &mut Issues, base: &str, b: &BackendSpec) {
    if b.endpoints.is_empty() {
        out.push(
            format!("{base}.endpoints"),
            "backend needs at least one endpoint",
        );
    }
    for (j, e) in b.endpoints.iter().enumerate() {
        let ep = format!("{base}.endpoints[{j}]");
        if let Err(message) = crate::upstream::dns::EndpointAddress::parse(&e.address) {
            out.push(format!("{ep}.address"), message);
        }
        if !(1..=10_000).contains(&e.weight) {
            out.push(format!("{ep}.weight"), "must be between 1 and 10000");
        }
    }
    if let LoadBalancingSpec::ConsistentHash(HashKeySpec::Header(name)) = &b.load_balancing
        && http::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        out.push(
            format!("{base}.load_balancing.consistent_hash.header"),
            format!("invalid header name {name:?}"),
        );
    }
    let t = &b.timeouts;
    positive_duration(out, format!("{base}.timeouts.connect"), t.connect);
    positive_duration(out, format!("{base}.timeouts.request"), t.request);
    positive_duration(out, format!("{base}.timeouts.idle"), t.idle);
    if b.dns_refresh < std::time::Duration::from_secs(1) {
        out.push(format!("{base}.dns_refresh"), "must be at least 1s");
    }
    let h = &b.health;
    if h.consecutive_failures == 0 {
        out.push(
            format!("{base}.health.consecutive_failures"),
            "must be at least 1",
        );
    }
    if h.base_ejection > h.max_ejection {
        out.push(
            format!("{base}.health.base_ejection"),
            format!(
                "base_ejection ({}) must not exceed max_ejection ({})",
                humantime::format_duration(h.base_ejection),
                humantime::format_duration(h.max_ejection)
            ),
        );
    }
    if b.max_idle_per_endpoint > 100_000 {
        out.push(
            format!("{base}.max_idle_per_endpoint"),
            "must be at most 100000",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(cfg: serde_json::Value) -> Vec<(String, String)> {
        let cfg: GatewayConfig = serde_json::from_value(cfg).expect("shape");
        validate(&cfg)
            .into_iter()
            .map(|i| (i.field, i.message))
            .collect()
    }

    #[test]
    fn valid_minimal_config_has_no_issues() {
        let cfg = serde_json::json!({
            "listeners": [{"name": "l", "address": "[::]:8080"}],
            "backends": [{"name": "b", "endpoints": [{"address": "10.0.0.1:80"}]}],
            "routes": [{"name": "r", "backend": "b", "listeners": ["l"]}],
        });
        assert_eq!(issues(cfg), []);
    }

    #[test]
    fn limits_and_references() {
        let cfg = serde_json::json!({
            "admin": {"address": "localhost:9901"},
            "server": {"trusted_proxies": ["10.0.0.0/33"]},
            "listeners": [{"name": "l", "address": "127.0.0.1:0", "policies": ["nope"],
                           "http": {"max_head_bytes": 100, "max_headers": 0,
                                    "h2_max_pending_resets": 0}}],
            "backends": [{"name": "b", "endpoints": [],
                          "load_balancing": {"consistent_hash": {"header": "bad header"}},
                          "timeouts": {"connect": "0s"},
                          "health": {"consecutive_failures": 0, "base_ejection": "2m",
                                     "max_ejection": "1m"},
                          "max_idle_per_endpoint": 100001}],
            "routes": [{"name": "r"}],
            "policies": [{"name": "p", "ip_filter": {}}],
        });
        let fields: Vec<String> = issues(cfg).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "admin.address",
                "server.trusted_proxies[0]",
                "listeners[0].policies[0]",
                "listeners[0].http.max_head_bytes",
                "listeners[0].http.max_headers",
                "listeners[0].http.h2_max_pending_resets",
                "routes[0]",
                "backends[0].endpoints",
                "backends[0].load_balancing.consistent_hash.header",
                "backends[0].timeouts.connect",
                "backends[0].health.consecutive_failures",
                "backends[0].health.base_ejection",
                "backends[0].max_idle_per_endpoint",
                "policies[0].ip_filter",
            ]
        );
    }

    #[test]
    fn endpoint_port_zero_and_listener_port_zero() {
        let cfg = serde_json::json!({
            "listeners": [{"name": "a", "address": "127.0.0.1:0"},
                          {"name": "b", "address": "127.0.0.1:0"}],
            "backends": [{"name": "b", "endpoints": [{"address": "10.0.0.1:0", "weight": 10001}]}],
        });
        assert_eq!(
            issues(cfg),
            [
                (
                    "backends[0].endpoints[0].address".to_owned(),
                    "\"10.0.0.1:0\": port 0 is not allowed here".to_owned()
                ),
                (
                    "backends[0].endpoints[0].weight".to_owned(),
                    "must be between 1 and 10000".to_owned()
                ),
            ]
        );
    }
}
