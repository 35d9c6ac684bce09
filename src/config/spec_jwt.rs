//! The `jwt` policy's configuration (pure data; compiled in
//! `policy::authn::jwt`). Field names follow Envoy Gateway's JWT
//! SecurityPolicy where they fit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

/// Bearer-token authentication with JSON Web Tokens.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSpec {
    /// Trusted issuers; a token is checked against the provider whose
    /// `issuer` equals its `iss`.
    pub providers: Vec<JwtProviderSpec>,
    /// Where the token is looked for, in order (default: the
    /// `Authorization: Bearer` header).
    #[serde(default = "default_sources")]
    pub from: Vec<TokenSourceSpec>,
    /// Tolerance for `exp`, `nbf` and `iat` against the gateway's clock.
    #[serde(default = "default_leeway", with = "duration")]
    pub leeway: Duration,
    /// Longest token accepted (bytes); longer ones are refused unparsed.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// A request without a token passes as anonymous; a bad token still fails.
    #[serde(default)]
    pub optional: bool,
    /// Remove the token (header, cookie or query parameter) before the
    /// request goes upstream.
    #[serde(default)]
    pub strip_token: bool,
    /// Verified tokens kept (keyed by a keyed hash of the token, never past
    /// their `exp`).
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    /// Claims copied to upstream request headers (client-sent copies of
    /// those headers are replaced).
    #[serde(default)]
    pub claims_to_headers: Vec<ClaimToHeaderSpec>,
    /// The claim holding roles (a list or a space-separated string), by path.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
}

/// One trusted issuer and where its keys come from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtProviderSpec {
    pub name: String,
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted `aud` values (any of them); not checked when empty.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Signing algorithms accepted (default RS256 and ES256). `none` is never accepted.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Exactly one key source.
    pub keys: KeySourceSpec,
    /// Claims every token must carry (by path).
    #[serde(default)]
    pub required_claims: Vec<String>,
}

/// Where a provider's verification keys come from. Exactly one of the fields.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySourceSpec {
    /// A JWKS URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// An OIDC issuer URL: `/.well-known/openid-configuration` gives `jwks_uri`.
    #[serde(default)]
    pub discovery: Option<String>,
    /// A JWKS file (reread on reload).
    #[serde(default)]
    pub file: Option<String>,
    /// A JWKS document inline.
    #[serde(default)]
    pub inline: Option<String>,
    /// PEM CA bundle trusted for the HTTPS fetches (default: Mozilla roots).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Allow plain `http://` URLs (tests, sidecars). `validate` warns.
    #[serde(default)]
    pub insecure_http: bool,
    /// How often fetched keys are refreshed.
    #[serde(default = "default_refresh", with = "duration")]
    pub refresh: Duration,
    /// Deadline of one fetch.
    #[serde(default = "default_fetch_timeout", with = "duration")]
    pub timeout: Duration,
}

/// Where a token is read from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenSourceSpec {
    /// A header; `authorization` expects the `Bearer ` scheme.
    Header(String),
    Cookie(String),
    Query(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeaderSpec {
    /// Claim path: `sub`, `realm_access.roles`, `https://example.com/tenant`.
    pub claim: String,
    pub header: String,
}

fn default_sources() -> Vec<TokenSourceSpec> {
    vec![TokenSourceSpec::Header("authorization".to_owned())]
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_max_token_bytes() -> usize {
    8 * 1024
}
fn default_cache_entries() -> usize {
    100_000
}
fn default_roles_claim() -> String {
    "roles".to_owned()
}
fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}
fn default_refresh() -> Duration {
    Duration::from_secs(300)
}
fn default_fetch_timeout() -> Duration {
    Duration::from_secs(5)
}
