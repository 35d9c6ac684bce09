//! ingress-nginx annotations (`nginx.ingress.kubernetes.io/…`) lowered into
//! typed Portcullis settings, each reported as converted, approximated,
//! not converted, refused or unknown.
//!
//! Fail closed: a bad value, a raw configuration snippet, or a security
//! control that cannot be expressed yet (external/basic auth, client
//! certificates, ModSecurity) keeps the whole Ingress from being served,
//! because serving it without that control would open what its author
//! closed. Annotations that only shape traffic (rewrites, timeouts, canary)
//! are reported and otherwise ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::config::spec::{BackendSpec, IpFilterSpec, TimeoutsSpec};
use crate::config::spec_inflight::InflightSpec;
use crate::config::spec_rate_limit::RateLimitSpec;
use crate::net::cidr_table::parse_cidr;
use crate::provider::ObjectRef;
use crate::provider::kube::report::{Outcome, Report};

pub const NGINX: &str = "nginx.ingress.kubernetes.io/";
/// Names policies of the base configuration to attach to every route of
/// the Ingress, after the translated ones: `portcullis.dev/policies: a,b`.
pub const POLICIES: &str = "portcullis.dev/policies";
/// The base configuration's `waf` policy that `enable-modsecurity` /
/// `enable-owasp-core-rules` attach (the cluster operator defines it, with
/// the CRS directory and the mode).
pub const WAF_POLICY: &str = "ingress-nginx-waf";

/// What an Ingress's annotations ask for, in Portcullis terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngressSettings {
    pub rate_limit: Option<RateLimitSpec>,
    pub inflight: Option<InflightSpec>,
    pub ip_filter: Option<IpFilterSpec>,
    pub timeouts: Option<TimeoutsSpec>,
    /// TLS to the backend (`backend-protocol: HTTPS`).
    pub backend_tls: Option<crate::tls::spec::BackendTlsSpec>,
    /// Paths are regular expressions (`use-regex`).
    pub use_regex: bool,
    /// Every path answers a redirect to this URL with this status.
    pub permanent_redirect: Option<(String, u16)>,
    /// `/` redirects (302) here.
    pub app_root: Option<String>,
    /// Base-config policies named by `portcullis.dev/policies`.
    pub attached: Vec<String>,
    /// `backend-protocol: GRPC` / `GRPCS`.
    pub backend_protocol: crate::config::spec_upstream::BackendProtocol,
}

/// Why an Ingress is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip;

/// Reads the annotations of `object`; every nginx annotation gets a finding.
pub fn translate(
    object: &ObjectRef,
    annotations: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<IngressSettings, Skip> {
    let mut settings = IngressSettings::default();
    let mut skip = false;
    let get = |name: &str| annotations.get(&format!("{NGINX}{name}")).map(|v| v.trim());
    let mut note = |name: &str, outcome: Outcome, detail: String| {
        if matches!(outcome, Outcome::Skipped | Outcome::Refused) {
            skip = true;
        }
        report.push(object, format!("{NGINX}{name}"), outcome, detail);
    };
    let bad = |name: &str, why: String| (name.to_owned(), why);
    let mut errors: Vec<(String, String)> = Vec::new();

    // Rate limits: ingress-nginx's limit_req, per client IP, burst = rate × multiplier.
    let multiplier = match get("limit-burst-multiplier") {
        Some(v) => match positive(v) {
            Ok(m) => {
                note(
                    "limit-burst-multiplier",
                    Outcome::Converted,
                    format!("burst = rate × {m}"),
                );
                m
            }
            Err(e) => {
                errors.push(bad("limit-burst-multiplier", e));
                5
            }
        },
        None => 5,
    };
    let mut limits = Vec::new();
    for (name, per) in [("limit-rps", 1u64), ("limit-rpm", 60)] {
        if let Some(v) = get(name) {
            match positive(v) {
                Ok(rate) => {
                    limits.push(json!({"rate": rate, "per": format!("{per}s"), "burst": rate.saturating_mul(multiplier)}));
                    note(
                        name,
                        Outcome::Approximated,
                        format!(
                            "rate_limit {rate}/{per}s per client IP, burst {}; rejects with 429 and Retry-After (ingress-nginx answers 503)",
                            rate.saturating_mul(multiplier)
                        ),
                    );
                }
                Err(e) => errors.push(bad(name, e)),
            }
        }
    }
    if !limits.is_empty() {
        match serde_json::from_value::<RateLimitSpec>(
            json!({"limits": limits, "key": ["client_ip"]}),
        ) {
            Ok(spec) => settings.rate_limit = Some(spec),
            Err(e) => errors.push(bad("limit-rps", e.to_string())),
        }
    }
    if let Some(v) = get("limit-whitelist") {
        match cidr_list(v) {
            Ok(_) => note(
                "limit-whitelist",
                Outcome::NotConverted,
                "rate limits have no exempt list yet; listed clients are limited like the rest"
                    .into(),
            ),
            Err(e) => errors.push(bad("limit-whitelist", e)),
        }
    }
    if let Some(v) = get("limit-connections") {
        match positive(v).and_then(|n| u32::try_from(n).map_err(|_| "too large".to_owned())) {
            Ok(max) => match serde_json::from_value::<InflightSpec>(
                json!({"max": max, "key": ["client_ip"]}),
            ) {
                Ok(spec) => {
                    settings.inflight = Some(spec);
                    note(
                        "limit-connections",
                        Outcome::Approximated,
                        format!(
                            "inflight max {max} per client IP: counts concurrent requests rather than connections; 503 past it"
                        ),
                    );
                }
                Err(e) => errors.push(bad("limit-connections", e.to_string())),
            },
            Err(e) => errors.push(bad("limit-connections", e)),
        }
    }

    // Source ranges: an allow list denies everyone else; a deny list only those.
    let mut filter = IpFilterSpec::default();
    for (name, deny) in [
        ("whitelist-source-range", false),
        ("denylist-source-range", true),
    ] {
        if let Some(v) = get(name) {
            match cidr_list(v) {
                Ok(cidrs) => {
                    note(
                        name,
                        Outcome::Converted,
                        format!(
                            "ip_filter {} {}",
                            if deny { "deny" } else { "allow" },
                            cidrs.join(",")
                        ),
                    );
                    if deny {
                        filter.deny = cidrs
                    } else {
                        filter.allow = cidrs
                    }
                }
                Err(e) => errors.push(bad(name, e)),
            }
        }
    }
    if !filter.allow.is_empty() || !filter.deny.is_empty() {
        settings.ip_filter = Some(filter);
    }

    if let Some(v) = get("proxy-body-size") {
        match body_size(v) {
            Ok(_) => note(
                "proxy-body-size",
                Outcome::NotConverted,
                "body limits are per listener (listeners[].http.max_body_bytes), not per route yet"
                    .into(),
            ),
            Err(e) => errors.push(bad("proxy-body-size", e)),
        }
    }
    for name in ["ssl-redirect", "force-ssl-redirect"] {
        if let Some(v) = get(name) {
            match boolean(v) {
                Ok(false) => note(name, Outcome::Converted, "no redirect (Portcullis never redirects unless asked)".into()),
                Ok(true) => note(name, Outcome::NotConverted, "per-route HTTPS redirects are not in the route model; set https_redirect on the plain listener".into()),
                Err(e) => errors.push(bad(name, e)),
            }
        }
    }
    if let Some(v) = get("backend-protocol") {
        match v.to_ascii_uppercase().as_str() {
            "HTTP" => note(
                "backend-protocol",
                Outcome::Converted,
                "plain HTTP/1.1".into(),
            ),
            "HTTPS" => {
                settings.backend_tls = Some(crate::tls::spec::BackendTlsSpec {
                    ca: None,
                    server_name: None,
                    client_certificate: None,
                    insecure_skip_verify: true,
                });
                note("backend-protocol", Outcome::Approximated, "backend TLS without certificate verification, as ingress-nginx does by default (proxy-ssl-verify off)".into());
            }
            "GRPC" => {
                settings.backend_protocol = crate::config::spec_upstream::BackendProtocol::Grpc;
                note(
                    "backend-protocol",
                    Outcome::Converted,
                    "protocol: grpc (HTTP/2 cleartext, prior knowledge)".into(),
                );
            }
            "GRPCS" => {
                settings.backend_protocol = crate::config::spec_upstream::BackendProtocol::Grpc;
                settings.backend_tls = Some(crate::tls::spec::BackendTlsSpec {
                    ca: None,
                    server_name: None,
                    client_certificate: None,
                    insecure_skip_verify: true,
                });
                note("backend-protocol", Outcome::Approximated, "protocol: grpc over TLS (ALPN h2) without certificate verification, as ingress-nginx does by default (proxy-ssl-verify off)".into());
            }
            "AUTO_HTTP" | "FCGI" => note(
                "backend-protocol",
                Outcome::Skipped,
                format!("{v}: not supported; the Ingress is not served"),
            ),
            _ => errors.push(bad(
                "backend-protocol",
                format!("{v:?} is not HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP or FCGI"),
            )),
        }
    }
    let mut timeouts = TimeoutsSpec::default();
    let mut timeouts_set = false;
    let mut request: Option<Duration> = None;
    for name in [
        "proxy-connect-timeout",
        "proxy-read-timeout",
        "proxy-send-timeout",
    ] {
        if let Some(v) = get(name) {
            match seconds(v) {
                Ok(d) => {
                    timeouts_set = true;
                    if name == "proxy-connect-timeout" {
                        timeouts.connect = d;
                        note(
                            name,
                            Outcome::Converted,
                            format!("timeouts.connect {}s", d.as_secs()),
                        );
                    } else {
                        // The longer of read and send: neither deadline may cut a request nginx would let through.
                        request = Some(request.map_or(d, |r| r.max(d)));
                        note(
                            name,
                            Outcome::Approximated,
                            format!(
                                "timeouts.request {}s: one deadline from sending the request to the response head",
                                d.as_secs()
                            ),
                        );
                    }
                }
                Err(e) => errors.push(bad(name, e)),
            }
        }
    }
    if timeouts_set {
        if let Some(r) = request {
            timeouts.request = r;
        }
        settings.timeouts = Some(timeouts);
    }
    if let Some(v) = get("use-regex") {
        match boolean(v) {
            Ok(on) => {
                settings.use_regex = on;
                note(
                    "use-regex",
                    if on {
                        Outcome::Approximated
                    } else {
                        Outcome::Converted
                    },
                    if on {
                        "paths become case-insensitive regex prefixes (?i)PATH.*, as nginx `location ~*`".into()
                    } else {
                        String::new()
                    },
                );
            }
            Err(e) => errors.push(bad("use-regex", e)),
        }
    }
    if let Some(v) = get("rewrite-target") {
        note(
            "rewrite-target",
            Outcome::NotConverted,
            format!(
                "path rewrites are not in the route model yet; requests reach the backend unrewritten ({v:?} ignored)"
            ),
        );
    }
    if let Some(v) = get("app-root") {
        if v.starts_with('/') && !v.contains(char::is_whitespace) {
            settings.app_root = Some(v.to_owned());
            note(
                "app-root",
                Outcome::Converted,
                format!("GET / answers 302 Location {v}"),
            );
        } else {
            errors.push(bad(
                "app-root",
                format!("{v:?} must be a path starting with /"),
            ));
        }
    }
    if let Some(v) = get("permanent-redirect") {
        let code = match get("permanent-redirect-code") {
            Some(c) => match c.parse::<u16>() {
                Ok(c) if (300..=399).contains(&c) => c,
                _ => {
                    errors.push(bad(
                        "permanent-redirect-code",
                        format!("{c:?} is not a 3xx status"),
                    ));
                    301
                }
            },
            None => 301,
        };
        if http::HeaderValue::from_str(v).is_ok() && !v.is_empty() {
            settings.permanent_redirect = Some((v.to_owned(), code));
            note(
                "permanent-redirect",
                Outcome::Converted,
                format!("every path answers {code} Location {v}"),
            );
        } else {
            errors.push(bad(
                "permanent-redirect",
                format!("{v:?} is not a valid Location"),
            ));
        }
    }
    if let Some(v) = get("canary") {
        match boolean(v) {
            Ok(true) => note("canary", Outcome::Skipped, "weighted and header-selected backends are not in the route model yet; the canary Ingress is not served and the main Ingress takes all traffic".into()),
            Ok(false) => note("canary", Outcome::Converted, String::new()),
            Err(e) => errors.push(bad("canary", e)),
        }
    }
    for (name, value) in annotations {
        let Some(short) = name.strip_prefix(NGINX) else {
            continue;
        };
        if short.ends_with("-snippet") || short == "configuration-snippet" {
            note(short, Outcome::Refused, "raw nginx configuration is never accepted (IngressNightmare, CVE-2025-1974); express it as a policy; the Ingress is not served".into());
        } else if short.starts_with("auth-") {
            note(short, Outcome::Skipped, "external and basic authentication and client certificates are not converted yet; serving without them would open the app, so the Ingress is not served".into());
        } else if short == "enable-modsecurity" || short == "enable-owasp-core-rules" {
            match boolean(value) {
                Ok(false) => note(short, Outcome::Converted, String::new()),
                Ok(true) => {
                    if !settings.attached.iter().any(|p| p == WAF_POLICY) {
                        settings.attached.push(WAF_POLICY.to_owned());
                    }
                    note(
                        short,
                        Outcome::Approximated,
                        format!(
                            "the base configuration's waf policy `{WAF_POLICY}` is attached (define it with `crs:`; the Ingress is not served while it is missing); its `mode` decides blocking, where ingress-nginx blocks only when a snippet sets SecRuleEngine On"
                        ),
                    );
                }
                Err(e) => errors.push(bad(short, e)),
            }
        } else if short == "modsecurity-transaction-id" {
            note(
                short,
                Outcome::NotConverted,
                "the gateway's request id identifies the WAF transaction in the access record"
                    .into(),
            );
        } else if short.starts_with("modsecurity") {
            note(short, Outcome::Skipped, "ModSecurity settings other than enable-modsecurity are not converted; express them in the waf policy; the Ingress is not served".into());
        } else if short.starts_with("canary-") {
            note(short, Outcome::NotConverted, "see canary".into());
        } else if !KNOWN.contains(&short) {
            note(
                short,
                Outcome::Unknown,
                "not an annotation Portcullis translates; ignored".into(),
            );
        }
    }
    for (name, why) in errors {
        note(
            &name,
            Outcome::Skipped,
            format!("invalid value: {why}; the Ingress is not served"),
        );
    }
    if let Some(v) = annotations.get(POLICIES) {
        let names: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        let valid = |n: &String| {
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if names.is_empty() || !names.iter().all(valid) {
            report.push(object, POLICIES, Outcome::Skipped, format!("invalid value {v:?}: a comma-separated list of policy names; the Ingress is not served"));
            skip = true;
        } else {
            // An unknown name fails validation, which skips the Ingress.
            report.push(
                object,
                POLICIES,
                Outcome::Converted,
                format!("attached {}", names.join(", ")),
            );
            for name in names {
                if !settings.attached.contains(&name) {
                    settings.attached.push(name);
                }
            }
        }
    }
    if skip { Err(Skip) } else { Ok(settings) }
}

/// Annotations handled above by name.
const KNOWN: &[&str] = &[
    "limit-rps",
    "limit-rpm",
    "limit-burst-multiplier",
    "limit-connections",
    "limit-whitelist",
    "whitelist-source-range",
    "denylist-source-range",
    "proxy-body-size",
    "ssl-redirect",
    "force-ssl-redirect",
    "backend-protocol",
    "proxy-connect-timeout",
    "proxy-read-timeout",
    "proxy-send-timeout",
    "use-regex",
    "rewrite-target",
    "app-root",
    "permanent-redirect",
    "permanent-redirect-code",
    "canary",
];

/// Applies the backend-level settings to a backend built for this Ingress.
pub fn apply_to_backend(settings: &IngressSettings, backend: &mut BackendSpec) {
    if let Some(t) = &settings.timeouts {
        backend.timeouts = t.clone();
    }
    if let Some(tls) = &settings.backend_tls {
        backend.tls = Some(tls.clone());
    }
    backend.protocol = settings.backend_protocol;
}

fn positive(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{v:?} is not a positive integer")),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    match v {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err(format!("{v:?} is not true or false")),
    }
}

fn seconds(v: &str) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{v:?} is not a number of seconds between 1 and 3600"
        )),
    }
}

fn cidr_list(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        parse_cidr(part).map_err(|e| format!("{part:?}: {e}"))?;
        out.push(part.to_owned());
    }
    if out.is_empty() {
        return Err("empty CIDR list".into());
    }
    Ok(out)
}

/// nginx sizes: `0` (unlimited), `512`, `8k`, `1m`, `1g`.
fn body_size(v: &str) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let (digits, unit) = match lower.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{v:?} is not a size like 8m"))?;
    let unit = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("{v:?} is not a size like 8m")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{v:?} is too large"))
}

#[cfg(test)]
mod waf_tests {
    use super::*;

    fn run(pairs: &[(&str, &str)]) -> (Result<IngressSettings, Skip>, Report) {
        let object = ObjectRef {
            namespace: "shop".into(),
            kind: "Ingress".into(),
            name: "web".into(),
        };
        let annotations = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut report = Report::default();
        (translate(&object, &annotations, &mut report), report)
    }

    #[test]
    fn modsecurity_attaches_the_base_waf_policy_alongside_named_ones() {
        let (settings, report) = run(&[
            ("nginx.ingress.kubernetes.io/enable-modsecurity", "true"),
            (
                "nginx.ingress.kubernetes.io/enable-owasp-core-rules",
                "true",
            ),
            ("portcullis.dev/policies", "office-only"),
        ]);
        let settings = settings.expect("served");
        assert_eq!(settings.attached, [WAF_POLICY, "office-only"]);
        assert!(report.findings.iter().any(
            |f| f.outcome == Outcome::Approximated && f.subject.ends_with("enable-modsecurity")
        ));
    }

    #[test]
    fn modsecurity_snippets_and_bad_values_fail_closed() {
        let (settings, _) = run(&[(
            "nginx.ingress.kubernetes.io/modsecurity-snippet",
            "SecRuleEngine On",
        )]);
        assert!(settings.is_err());
        let (settings, _) = run(&[(
            "nginx.ingress.kubernetes.io/enable-modsecurity",
            "yes please",
        )]);
        assert!(settings.is_err());
        let (settings, _) = run(&[("nginx.ingress.kubernetes.io/enable-modsecurity", "false")]);
        assert_eq!(settings.expect("served").attached, Vec::<String>::new());
    }
}
