//! The configuration model: serde types for policy-as-code.
//!
//! This is the provider-neutral model. The YAML file provider deserializes it
//! directly; a Kubernetes provider (Ingress, Gateway API) lowers its resources
//! into the same types. Runtime structures (tries, compiled regexes, pools) are
//! built from it in `config::compile`, never deserialized directly.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The root of a gateway configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default)]
    pub admin: AdminSpec,
    #[serde(default)]
    pub server: ServerSpec,
    #[serde(default)]
    pub listeners: Vec<ListenerSpec>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    #[serde(default)]
    pub backends: Vec<BackendSpec>,
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// Access-log format, redaction and sinks; security event sink.
    #[serde(default)]
    pub logging: crate::config::spec_logging::LoggingSpec,
    /// Shared state (Redis) for limits and the deny list across replicas.
    #[serde(default)]
    pub state: crate::config::spec_redis::StateSpec,
    /// Threat feeds (lists of hostile prefixes) used by `threat_feed` policies.
    #[serde(default)]
    pub feeds: Vec<crate::config::spec_feeds::FeedSpec>,
    /// Automated remediation: scenarios over live signals that ban clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::config::spec_remediation::RemediationSpec>,
    /// Anomaly detection: the detector's tick and per-listener baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<crate::config::spec_anomaly::AnomalyGlobalSpec>,
}

/// The admin listener (health, readiness; later metrics and the admin API).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSpec {
    /// `host:port`; `127.0.0.1:9901` by default.
    #[serde(default = "default_admin_address")]
    pub address: String,
    /// File holding the admin API bearer token. Required when `address` is
    /// not loopback; when set, every admin endpoint but `/healthz` and
    /// `/readyz` needs `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

impl Default for AdminSpec {
    fn default() -> Self {
        Self {
            address: default_admin_address(),
            token_file: None,
        }
    }
}

fn default_admin_address() -> String {
    "127.0.0.1:9901".to_owned()
}

/// Process-wide settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Peers (CIDRs) whose forwarding headers and PROXY headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// How long SIGTERM waits for in-flight requests before exiting.
    #[serde(default = "default_grace", with = "duration")]
    pub shutdown_grace: Duration,
    /// Write one JSON access-log line per request to stdout.
    #[serde(default = "default_true")]
    pub access_log: bool,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            shutdown_grace: default_grace(),
            access_log: true,
        }
    }
}

fn default_grace() -> Duration {
    Duration::from_secs(30)
}

fn default_true() -> bool {
    true
}

/// A socket the gateway accepts client connections on.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSpec {
    pub name: String,
    /// `host:port`, e.g. `0.0.0.0:8080` or `[::]:8080`.
    pub address: String,
    #[serde(default)]
    pub proxy_protocol: ProxyProtocolMode,
    /// Policies applied to every route served on this listener, before the route's own.
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub http: HttpSpec,
    /// Connection limits, enforced before any HTTP parsing.
    #[serde(default)]
    pub connections: crate::config::spec_conn_limit::ConnectionLimitsSpec,
    /// TLS termination (HTTPS); plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<crate::tls::spec::ListenerTlsSpec>,
    /// Answer every request with a redirect to HTTPS (plain listeners).
    #[serde(default)]
    pub https_redirect: Option<crate::tls::spec::HttpsRedirectSpec>,
}

/// Whether a PROXY protocol (v1 or v2) header precedes the client's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyProtocolMode {
    #[default]
    Off,
    /// Accepted from trusted proxies; plain connections pass too (for switch-overs).
    Optional,
    /// Every connection must start with a PROXY header from a trusted proxy.
    Required,
}

/// HTTP protocol limits and strictness for one listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Largest request head (request line plus headers), in bytes.
    #[serde(default = "default_max_head_bytes")]
    pub max_head_bytes: usize,
    /// Most header fields in one request.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Deadline to receive a complete request head.
    #[serde(default = "default_head_timeout", with = "duration")]
    pub head_timeout: Duration,
    /// What to do with `%2F` and `%5C` in paths.
    #[serde(default)]
    pub encoded_slash: EncodedSlash,
    /// HTTP/2: concurrent streams per connection.
    #[serde(default = "default_h2_streams")]
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: largest decoded header list, in bytes.
    #[serde(default = "default_h2_header_list")]
    pub h2_max_header_list_bytes: u32,
    /// HTTP/2: pending reset streams tolerated before the connection is closed
    /// (the defence against rapid-reset floods).
    #[serde(default = "default_h2_resets")]
    pub h2_max_pending_resets: usize,
    /// HTTP/2: SETTINGS and PING frames a client may send per second before
    /// the connection is closed with GOAWAY ENHANCE_YOUR_CALM (0: no limit).
    #[serde(
        default = "default_h2_control_frames",
        skip_serializing_if = "is_default_h2_control_frames"
    )]
    pub h2_max_control_frames_per_second: u32,
    /// Largest request body in bytes (413 past it, enforced while streaming);
    /// unlimited when unset.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Slow-POST defence: a body must keep up this average upload rate
    /// after a grace period (408 `body_too_slow`).
    #[serde(default)]
    pub min_body_rate: Option<crate::config::spec_conn_limit::MinBodyRateSpec>,
    /// Longest request target (path and query) in bytes (414 past it).
    #[serde(default = "default_max_uri_bytes")]
    pub max_uri_bytes: usize,
    /// Header names containing `_`: `drop` (default), `reject` or `allow`.
    #[serde(default)]
    pub underscore_headers: crate::config::spec_strict::UnderscoreHeaders,
    /// Headers removed from requests of peers that are not trusted proxies
    /// (vendor client-IP and URL/method override headers by default).
    #[serde(default = "crate::config::spec_strict::default_untrusted_strip")]
    pub strip_untrusted_headers: Vec<String>,
    /// Longest pause between two reads of request-body data (nginx's
    /// `client_body_timeout`); 408 `body_timeout` past it; `null` disables it.
    #[serde(
        default = "default_body_timeout",
        with = "crate::config::spec_conn_limit::opt_duration"
    )]
    pub body_timeout: Option<Duration>,
    /// The backend's `Server` header: `remove` (default), `keep`, or
    /// `{ set: value }`.
    #[serde(default)]
    pub server_header: crate::config::spec_strict::ServerHeader,
    /// `strict` (default) or `standard` path judgement.
    #[serde(default)]
    pub path_strictness: crate::config::spec_strict::PathStrictness,
}

fn default_max_uri_bytes() -> usize {
    8 * 1024
}

impl Default for HttpSpec {
    fn default() -> Self {
        Self {
            max_head_bytes: default_max_head_bytes(),
            max_headers: default_max_headers(),
            head_timeout: default_head_timeout(),
            encoded_slash: EncodedSlash::default(),
            h2_max_concurrent_streams: default_h2_streams(),
            h2_max_header_list_bytes: default_h2_header_list(),
            h2_max_pending_resets: default_h2_resets(),
            h2_max_control_frames_per_second: default_h2_control_frames(),
            max_body_bytes: None,
            min_body_rate: None,
            max_uri_bytes: default_max_uri_bytes(),
            underscore_headers: Default::default(),
            strip_untrusted_headers: crate::config::spec_strict::default_untrusted_strip(),
            path_strictness: Default::default(),
            body_timeout: default_body_timeout(),
            server_header: Default::default(),
        }
    }
}

fn default_h2_control_frames() -> u32 {
    100
}

fn is_default_h2_control_frames(n: &u32) -> bool {
    *n == default_h2_control_frames()
}

fn default_body_timeout() -> Option<Duration> {
    Some(Duration::from_secs(60))
}
fn default_max_head_bytes() -> usize {
    32 * 1024
}
fn default_max_headers() -> usize {
    100
}
fn default_head_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_h2_streams() -> u32 {
    100
}
fn default_h2_header_list() -> u32 {
    32 * 1024
}
fn default_h2_resets() -> usize {
    20
}

/// Action for percent-encoded `/` (`%2F`) and `\` (`%5C`) in a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodedSlash {
    /// 400 Bad Request.
    #[default]
    Reject,
    /// Leave them encoded; they never split a segment.
    Keep,
    /// Decode them to `/` before normalisation.
    Decode,
}

/// A route: a match, a chain of policies and an action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: String,
    /// Listeners this route is served on; all listeners when empty.
    #[serde(default)]
    pub listeners: Vec<String>,
    #[serde(default, rename = "match")]
    pub matches: MatchSpec,
    #[serde(default)]
    pub policies: Vec<String>,
    /// Name of the backend that serves matching requests.
    #[serde(default)]
    pub backend: Option<String>,
    /// A weighted split between backends, instead of `backend`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<crate::config::spec_route::WeightedBackendSpec>,
    /// Header/cookie-selected canary backend (with `backend` or `backends`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::config::spec_route::CanarySpec>,
    /// A response generated by the gateway itself.
    #[serde(default)]
    pub direct_response: Option<DirectResponseSpec>,
    /// Answer with a redirect (instead of `backend` or `direct_response`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<crate::config::spec_route::RedirectSpec>,
    /// Host and path rewrite before forwarding (needs `backend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<crate::config::spec_route::RewriteSpec>,
    /// Edits of the request headers the backend receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<crate::config::spec_route::HeaderModifierSpec>,
    /// Edits of the response headers the client receives (backend and
    /// direct responses; not the gateway's own refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<crate::config::spec_route::HeaderModifierSpec>,
    /// Largest request body on this route (overrides the listener's
    /// `http.max_body_bytes`; 413 past it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Timeouts to the response head for this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<crate::config::spec_route::RouteTimeoutsSpec>,
    /// Retries on connect failures and 502/503/504, under a budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<crate::config::spec_route::RetrySpec>,
    /// A copy of each request sent to a second backend, answer ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<crate::config::spec_route::MirrorSpec>,
    /// Baselines of this route's traffic, alerts and the under-attack mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<crate::config::spec_anomaly::AnomalySpec>,
}

/// All present conditions must hold for a route to match.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// Exact names (`api.example.com`) or wildcards (`*.example.com`).
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub path: Option<PathMatchSpec>,
    /// Methods, any of which matches; any method when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub headers: Vec<ValueMatchSpec>,
    #[serde(default)]
    pub query: Vec<ValueMatchSpec>,
}

/// Exactly one of `exact`, `prefix`, `regex`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatchSpec {
    #[serde(default)]
    pub exact: Option<String>,
    /// Matches on segment boundaries: `/api` matches `/api` and `/api/x`, not `/apix`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Matched against the whole normalised path.
    #[serde(default)]
    pub regex: Option<String>,
    /// Compare ASCII letters without case (`/admin` also matches `/ADMIN`),
    /// for backends on case-insensitive file systems or frameworks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_insensitive: bool,
}

/// A header or query parameter condition: `name` plus one of `exact`, `regex`,
/// or `present: true`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMatchSpec {
    pub name: String,
    #[serde(default)]
    pub exact: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub present: Option<bool>,
}

/// A response the gateway writes itself.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectResponseSpec {
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

fn default_status() -> u16 {
    200
}

/// A named group of upstream endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    pub name: String,
    pub endpoints: Vec<EndpointSpec>,
    #[serde(default)]
    pub load_balancing: LoadBalancingSpec,
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
    #[serde(default)]
    pub health: PassiveHealthSpec,
    /// Retry an idempotent request without a body once, on another endpoint,
    /// when the connection to the first could not be made.
    #[serde(default = "default_true")]
    pub retry_on_connect_failure: bool,
    /// Idle keep-alive connections kept per endpoint.
    #[serde(default = "default_idle_per_endpoint")]
    pub max_idle_per_endpoint: usize,
    /// TLS to the endpoints; plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<crate::tls::spec::BackendTlsSpec>,
    /// How often endpoints given as DNS names are resolved again.
    #[serde(default = "default_dns_refresh", with = "duration")]
    pub dns_refresh: Duration,
    /// `http1` (default), `h2` or `grpc`.
    #[serde(
        default,
        skip_serializing_if = "crate::config::spec_upstream::BackendProtocol::is_http1"
    )]
    pub protocol: crate::config::spec_upstream::BackendProtocol,
}

fn default_idle_per_endpoint() -> usize {
    128
}

fn default_dns_refresh() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// `IP:port`, or `name:port`: a DNS name, resolved in the background
    /// and again every `dns_refresh`, each address an endpoint.
    pub address: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// How a backend picks an endpoint for each request.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadBalancingSpec {
    /// Smooth weighted round robin.
    #[default]
    RoundRobin,
    /// Power of two random choices on in-flight requests (weighted).
    LeastRequest,
    /// A hash ring: the same key goes to the same endpoint while it is healthy.
    ConsistentHash(HashKeySpec),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HashKeySpec {
    /// The resolved client IP.
    ClientIp,
    /// The value of a request header (requests without it hash on client IP).
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSpec {
    #[serde(default = "default_connect", with = "duration")]
    pub connect: Duration,
    /// From sending the request to receiving the response head (504 past it).
    #[serde(default = "default_request", with = "duration")]
    pub request: Duration,
    /// How long an idle pooled upstream connection is kept.
    #[serde(default = "default_idle", with = "duration")]
    pub idle: Duration,
}

impl Default for TimeoutsSpec {
    fn default() -> Self {
        Self {
            connect: default_connect(),
            request: default_request(),
            idle: default_idle(),
        }
    }
}

fn default_connect() -> Duration {
    Duration::from_secs(5)
}
fn default_request() -> Duration {
    Duration::from_secs(60)
}
fn default_idle() -> Duration {
    Duration::from_secs(90)
}

/// Passive health checking (outlier ejection).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealthSpec {
    /// Consecutive failures (connect errors, timeouts, 502/503/504) that eject an endpoint.
    #[serde(default = "default_failures")]
    pub consecutive_failures: u32,
    /// First ejection period; it doubles with each ejection in a row.
    #[serde(default = "default_ejection", with = "duration")]
    pub base_ejection: Duration,
    #[serde(default = "default_max_ejection", with = "duration")]
    pub max_ejection: Duration,
}

impl Default for PassiveHealthSpec {
    fn default() -> Self {
        Self {
            consecutive_failures: default_failures(),
            base_ejection: default_ejection(),
            max_ejection: default_max_ejection(),
        }
    }
}

fn default_failures() -> u32 {
    5
}
fn default_ejection() -> Duration {
    Duration::from_secs(10)
}
fn default_max_ejection() -> Duration {
    Duration::from_secs(300)
}

/// A named, reusable policy. Exactly one kind is set.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub name: String,
    #[serde(default)]
    pub ip_filter: Option<IpFilterSpec>,
    #[serde(default)]
    pub rate_limit: Option<crate::config::spec_rate_limit::RateLimitSpec>,
    #[serde(default)]
    pub inflight: Option<crate::config::spec_inflight::InflightSpec>,
    /// Bearer-token (JWT) authentication.
    #[serde(default)]
    pub jwt: Option<crate::config::spec_jwt::JwtSpec>,
    /// Authorization rules (first match wins, default deny).
    #[serde(default)]
    pub authz: Option<crate::config::spec_authz::AuthzSpec>,
    /// Static API keys (stored as hashes).
    #[serde(default)]
    pub api_key: Option<crate::config::spec_api_key::ApiKeySpec>,
    /// HTTP Basic authentication against an htpasswd file.
    #[serde(default)]
    pub basic: Option<crate::config::spec_basic::BasicSpec>,
    /// Forward authentication to an external service.
    #[serde(default)]
    pub external: Option<crate::config::spec_external::ExternalSpec>,
    /// The verified client certificate (mTLS) as the principal.
    #[serde(default)]
    pub mtls: Option<crate::config::spec_mtls::MtlsSpec>,
    /// Deny (or tag) clients on a threat feed.
    #[serde(default)]
    pub threat_feed: Option<crate::config::spec_feeds::ThreatFeedPolicySpec>,
    /// Browser login with OpenID Connect (server-side session).
    #[serde(default)]
    pub oidc: Option<crate::config::spec_oidc::OidcSpec>,
    /// Opaque bearer tokens checked at an introspection endpoint (RFC 7662).
    #[serde(default)]
    pub introspection: Option<crate::config::spec_introspection::IntrospectionSpec>,
    /// A web application firewall running SecLang rules (the OWASP CRS).
    #[serde(default)]
    pub waf: Option<crate::config::spec_waf::WafSpec>,
}

/// The kind a policy is, borrowed from its spec.
#[derive(Debug, Clone, Copy)]
pub enum PolicyKindSpec<'a> {
    IpFilter(&'a IpFilterSpec),
    RateLimit(&'a crate::config::spec_rate_limit::RateLimitSpec),
    Inflight(&'a crate::config::spec_inflight::InflightSpec),
    Jwt(&'a crate::config::spec_jwt::JwtSpec),
    Authz(&'a crate::config::spec_authz::AuthzSpec),
    ApiKey(&'a crate::config::spec_api_key::ApiKeySpec),
    Basic(&'a crate::config::spec_basic::BasicSpec),
    External(&'a crate::config::spec_external::ExternalSpec),
    ThreatFeed(&'a crate::config::spec_feeds::ThreatFeedPolicySpec),
    Mtls(&'a crate::config::spec_mtls::MtlsSpec),
    Oidc(&'a crate::config::spec_oidc::OidcSpec),
    Introspection(&'a crate::config::spec_introspection::IntrospectionSpec),
    Waf(&'a crate::config::spec_waf::WafSpec),
}

impl PolicyKindSpec<'_> {
    /// The field the kind is configured under.
    pub fn field(&self) -> &'static str {
        match self {
            PolicyKindSpec::IpFilter(_) => "ip_filter",
            PolicyKindSpec::RateLimit(_) => "rate_limit",
            PolicyKindSpec::Inflight(_) => "inflight",
            PolicyKindSpec::Jwt(_) => "jwt",
            PolicyKindSpec::Authz(_) => "authz",
            PolicyKindSpec::ApiKey(_) => "api_key",
            PolicyKindSpec::Basic(_) => "basic",
            PolicyKindSpec::External(_) => "external",
            PolicyKindSpec::ThreatFeed(_) => "threat_feed",
            PolicyKindSpec::Mtls(_) => "mtls",
            PolicyKindSpec::Oidc(_) => "oidc",
            PolicyKindSpec::Introspection(_) => "introspection",
            PolicyKindSpec::Waf(_) => "waf",
        }
    }

    /// Whether the kind authenticates (attaches a principal).
    pub fn authenticates(&self) -> bool {
        matches!(
            self,
            PolicyKindSpec::Jwt(_)
                | PolicyKindSpec::ApiKey(_)
                | PolicyKindSpec::Basic(_)
                | PolicyKindSpec::External(_)
                | PolicyKindSpec::Oidc(_)
                | PolicyKindSpec::Mtls(_)
                | PolicyKindSpec::Introspection(_)
        )
    }
}

impl PolicySpec {
    /// Every kind set on this policy; a valid policy has exactly one.
    pub fn kinds(&self) -> Vec<PolicyKindSpec<'_>> {
        let mut kinds = Vec::with_capacity(1);
        if let Some(s) = &self.ip_filter {
            kinds.push(PolicyKindSpec::IpFilter(s));
        }
        if let Some(s) = &self.rate_limit {
            kinds.push(PolicyKindSpec::RateLimit(s));
        }
        if let Some(s) = &self.inflight {
            kinds.push(PolicyKindSpec::Inflight(s));
        }
        if let Some(s) = &self.jwt {
            kinds.push(PolicyKindSpec::Jwt(s));
        }
        if let Some(s) = &self.authz {
            kinds.push(PolicyKindSpec::Authz(s));
        }
        if let Some(s) = &self.api_key {
            kinds.push(PolicyKindSpec::ApiKey(s));
        }
        if let Some(s) = &self.basic {
            kinds.push(PolicyKindSpec::Basic(s));
        }
        if let Some(s) = &self.external {
            kinds.push(PolicyKindSpec::External(s));
        }
        if let Some(s) = &self.threat_feed {
            kinds.push(PolicyKindSpec::ThreatFeed(s));
        }
        if let Some(s) = &self.mtls {
            kinds.push(PolicyKindSpec::Mtls(s));
        }
        if let Some(s) = &self.oidc {
            kinds.push(PolicyKindSpec::Oidc(s));
        }
        if let Some(s) = &self.introspection {
            kinds.push(PolicyKindSpec::Introspection(s));
        }
        if let Some(s) = &self.waf {
            kinds.push(PolicyKindSpec::Waf(s));
        }
        kinds
    }

    /// The one kind, when exactly one is set.
    pub fn kind(&self) -> Option<PolicyKindSpec<'_>> {
        let kinds = self.kinds();
        match kinds.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

/// Allow and deny lists on the resolved client IP. The most specific matching
/// prefix decides; on a tie, deny wins. Unmatched addresses get `default`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IpFilterSpec {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    /// `deny` when `allow` is non-empty, else `allow`, unless set.
    #[serde(default)]
    pub default: Option<FilterAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterAction {
    Allow,
    Deny,
}

/// Durations as human strings: `250ms`, `10s`, `5m`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {text:?}: {e}")))
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }
}
