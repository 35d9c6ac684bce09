//! Spec types for what a route does to a request besides choosing its
//! backend, shaped after the Kubernetes Gateway API's HTTPRoute filters so
//! the Kubernetes provider maps them one to one: `RequestHeaderModifier`,
//! `ResponseHeaderModifier`, `RequestRedirect`, `URLRewrite`. Pure data; the
//! runtime lives in `src/http/filter/`.

use serde::{Deserialize, Serialize};

/// Header edits: `set` replaces, `add` appends, `remove` deletes. Values may
/// use request facts: `${client_ip}`, `${request_id}`, `${host}`,
/// `${path}`, `${method}`, `${scheme}` (`$$` is a literal `$`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderModifierSpec {
    #[serde(default)]
    pub set: Vec<HeaderPairSpec>,
    #[serde(default)]
    pub add: Vec<HeaderPairSpec>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPairSpec {
    pub name: String,
    pub value: String,
}

/// Answer with a redirect instead of forwarding (Gateway API
/// `RequestRedirect`). Unset parts keep the request's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSpec {
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    /// Omitted from `Location` when it is the scheme's default.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub path: Option<PathModifierSpec>,
    /// 301, 302 (default), 303, 307 or 308.
    #[serde(default = "default_redirect_status")]
    pub status_code: u16,
}

fn default_redirect_status() -> u16 {
    302
}

/// Rewrite the request before it is forwarded (Gateway API `URLRewrite`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteSpec {
    /// The `Host` the backend receives.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub path: Option<PathModifierSpec>,
}

/// Exactly one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathModifierSpec {
    /// The whole path becomes this (the query is kept).
    #[serde(default)]
    pub replace_full_path: Option<String>,
    /// The part the route's `path.prefix` matched becomes this.
    #[serde(default)]
    pub replace_prefix_match: Option<String>,
    /// ingress-nginx `rewrite-target`: `pattern` is matched against the
    /// normalised path and replaced by `substitution` (`$1`, `${name}`).
    #[serde(default)]
    pub regex: Option<RegexRewriteSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegexRewriteSpec {
    pub pattern: String,
    pub substitution: String,
}

/// Per-route timeouts (Gateway API `HTTPRouteTimeouts`), both up to the
/// response head; unset ones fall back to the backend's `timeouts.request`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTimeoutsSpec {
    /// The whole forward, every attempt included (504 past it).
    #[serde(default, with = "crate::config::spec_conn_limit::opt_duration")]
    pub request: Option<std::time::Duration>,
    /// One attempt on one endpoint (replaces the backend's
    /// `timeouts.request` for this route).
    #[serde(default, with = "crate::config::spec_conn_limit::opt_duration")]
    pub backend_request: Option<std::time::Duration>,
}

/// One backend of a traffic split (Gateway API weighted `backendRefs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedBackendSpec {
    pub name: String,
    /// Share of requests: `weight / sum of weights` (0 keeps it listed but
    /// idle).
    #[serde(default = "default_split_weight")]
    pub weight: u32,
}

fn default_split_weight() -> u32 {
    1
}

/// Requests carrying the header or cookie go to `backend` whatever the
/// weights (ingress-nginx `canary-by-header` / `canary-by-cookie`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CanarySpec {
    pub backend: String,
    #[serde(default)]
    pub header: Option<CanaryMatchSpec>,
    #[serde(default)]
    pub cookie: Option<CanaryMatchSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryMatchSpec {
    pub name: String,
    /// The value that selects the canary (exact match).
    #[serde(default = "default_canary_value")]
    pub value: String,
}

fn default_canary_value() -> String {
    "always".to_owned()
}
