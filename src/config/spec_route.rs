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

/// Retries of a route's requests (Gateway API `HTTPRouteRetry`, with a
/// budget as Linkerd and Envoy have it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Retries after the first try (1–10).
    #[serde(default = "default_retry_attempts")]
    pub attempts: u32,
    /// Backend statuses retried for idempotent methods: any of 502, 503,
    /// 504 (504 also covers an attempt that timed out).
    #[serde(default = "default_retry_codes")]
    pub codes: Vec<u16>,
    /// Retry when no connection could be made (any method: the endpoint
    /// never saw the request).
    #[serde(default = "default_true")]
    pub connect_failure: bool,
    /// The time one attempt may take to the response head (replaces
    /// `timeouts.backend_request`).
    #[serde(default, with = "crate::config::spec_conn_limit::opt_duration")]
    pub per_try_timeout: Option<std::time::Duration>,
    #[serde(default)]
    pub budget: RetryBudgetSpec,
}

/// Retries are allowed while they stay under `percent` of the route's
/// requests of the last 10 s, or under `min_per_second` in this second.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudgetSpec {
    #[serde(default = "default_budget_percent")]
    pub percent: u32,
    #[serde(default = "default_budget_min_per_second")]
    pub min_per_second: u32,
}

impl Default for RetryBudgetSpec {
    fn default() -> Self {
        Self {
            percent: default_budget_percent(),
            min_per_second: default_budget_min_per_second(),
        }
    }
}

fn default_retry_attempts() -> u32 {
    1
}

fn default_retry_codes() -> Vec<u16> {
    vec![502, 503, 504]
}

fn default_true() -> bool {
    true
}

fn default_budget_percent() -> u32 {
    20
}

fn default_budget_min_per_second() -> u32 {
    3
}

/// Request mirroring (Gateway API `RequestMirror`): a copy of each request
/// goes to `backend`, fire and forget; its answer is discarded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSpec {
    pub backend: String,
    /// Share of requests mirrored, 1–100.
    #[serde(default = "default_mirror_percent")]
    pub percent: u32,
    /// Mirrored requests in flight at once; more are dropped (and counted).
    #[serde(default = "default_mirror_concurrency")]
    pub max_in_flight: u32,
    /// A request body is mirrored only when a policy buffered it whole
    /// and it is at most this long; otherwise the copy is dropped.
    #[serde(default = "default_mirror_body")]
    pub max_body_bytes: u64,
}

fn default_mirror_percent() -> u32 {
    100
}

fn default_mirror_concurrency() -> u32 {
    64
}

fn default_mirror_body() -> u64 {
    64 * 1024
}
