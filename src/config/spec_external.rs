//! The `external` policy's configuration (pure data; compiled in
//! `policy::authn::external`): forward authentication, as ingress-nginx's
//! `auth-url` and Envoy's ext_authz HTTP service.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSpec {
    /// The auth service (`http://` or `https://`).
    pub url: String,
    /// PEM CA bundle trusted for an https service (default: Mozilla roots).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Deadline of the call; past it the policy fails closed (503).
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// Request headers sent to the service (besides the `X-Forwarded-*`
    /// and `X-Original-*` facts, which are always sent).
    #[serde(default = "default_auth_headers")]
    pub headers_to_auth: Vec<String>,
    /// Headers of a 2xx answer copied to the upstream request (client-sent
    /// copies are removed).
    #[serde(default)]
    pub headers_to_upstream: Vec<String>,
    /// Headers of a refusal relayed to the client.
    #[serde(default = "default_client_headers")]
    pub headers_to_client: Vec<String>,
    /// A header of the 2xx answer naming the user: it becomes the principal.
    #[serde(default)]
    pub subject_header: Option<String>,
    /// Send up to this many bytes of the request body (POST); 0 = none.
    #[serde(default)]
    pub include_body_bytes: usize,
    /// Let requests through when the service cannot be reached (default:
    /// fail closed with 503).
    #[serde(default)]
    pub fail_open: bool,
    /// Where a 401 sends a browser (`?rd=<original URL>` is appended), as
    /// ingress-nginx's `auth-signin`.
    #[serde(default)]
    pub signin_url: Option<String>,
    /// Cache allow decisions by these request headers' values.
    #[serde(default)]
    pub cache: Option<ExternalCacheSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalCacheSpec {
    /// Request headers whose values form the cache key.
    pub key: Vec<String>,
    #[serde(with = "duration")]
    pub ttl: Duration,
    #[serde(default = "default_cache_entries")]
    pub max_entries: usize,
}

fn default_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_auth_headers() -> Vec<String> {
    vec!["authorization".to_owned(), "cookie".to_owned()]
}
fn default_client_headers() -> Vec<String> {
    ["www-authenticate", "location", "set-cookie", "content-type"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}
fn default_cache_entries() -> usize {
    10_000
}
