//! The `introspection` policy's configuration (pure data; compiled in
//! `policy::authn::introspection`): opaque bearer tokens checked at an
//! OAuth 2.0 introspection endpoint (RFC 7662).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;
use crate::config::spec_jwt::{ClaimToHeaderSpec, TokenSourceSpec};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSpec {
    /// The introspection endpoint URL.
    pub endpoint: String,
    /// The gateway's client id at the authorization server.
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// How the gateway authenticates to the endpoint.
    #[serde(default)]
    pub auth_method: ClientAuthSpec,
    /// Where the token is looked for (default `Authorization: Bearer`).
    #[serde(default = "default_sources")]
    pub from: Vec<TokenSourceSpec>,
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Active answers kept (bounded; never past the token's `exp`).
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    /// Longest an active answer is reused without asking again.
    #[serde(default = "default_cache_ttl", with = "duration")]
    pub cache_ttl: Duration,
    /// Endpoint down: let requests through as anonymous instead of 503.
    #[serde(default)]
    pub fail_open: bool,
    #[serde(default)]
    pub claims_to_headers: Vec<ClaimToHeaderSpec>,
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Remove the token before the request goes upstream.
    #[serde(default)]
    pub strip_token: bool,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub insecure_http: bool,
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

/// Client authentication to the endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthSpec {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

fn default_sources() -> Vec<TokenSourceSpec> {
    vec![TokenSourceSpec::Header("authorization".to_owned())]
}
fn default_max_token_bytes() -> usize {
    4 * 1024
}
fn default_cache_entries() -> usize {
    100_000
}
fn default_cache_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_roles_claim() -> String {
    "roles".to_owned()
}
fn default_timeout() -> Duration {
    Duration::from_secs(3)
}
