//! The `oidc` policy's configuration (pure data; compiled in
//! `policy::authn::oidc`): browser login with the authorization code flow
//! and PKCE, a server-side session behind a sealed cookie. Field names
//! follow Envoy Gateway's OIDC SecurityPolicy and oauth2-proxy where they fit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;
use crate::config::spec_jwt::ClaimToHeaderSpec;

/// OpenID Connect login for browsers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSpec {
    /// The issuer URL; `/.well-known/openid-configuration` gives the
    /// endpoints and the key set.
    pub issuer: String,
    pub client_id: String,
    /// The client secret inline (prefer `client_secret_file`).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A file holding the client secret (trailing whitespace ignored).
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// The absolute callback URL registered at the provider; its path is
    /// answered by the policy itself.
    pub redirect_uri: String,
    /// Requested scopes (`openid` is always sent).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Local logout: this path ends the session (and, when the provider
    /// publishes `end_session_endpoint`, logs out there too).
    #[serde(default = "default_logout_path")]
    pub logout_path: String,
    /// Where the browser lands after logout (sent to the provider as
    /// `post_logout_redirect_uri`); `/` when unset.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// Log out at the provider too (RP-initiated logout), when it publishes
    /// `end_session_endpoint`.
    #[serde(default = "default_true")]
    pub provider_logout: bool,
    #[serde(default)]
    pub cookie: SessionCookieSpec,
    /// Keys sealing the session cookie; the first seals, all open (rotation).
    pub session_keys: Vec<SessionKeySpec>,
    /// How long a session lives at most, refreshes included.
    #[serde(default = "default_session_ttl", with = "duration")]
    pub session_ttl: Duration,
    /// Sessions kept in memory at most (the oldest-expiring are dropped first).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Refresh the access token when it expires within this (needs a
    /// refresh token; without one the session ends with the access token).
    #[serde(default = "default_refresh_before", with = "duration")]
    pub refresh_before: Duration,
    /// Tolerance for the ID token's `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway", with = "duration")]
    pub leeway: Duration,
    /// ID token signing algorithms accepted.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Forward tokens to the backend (never by default).
    #[serde(default)]
    pub forward: ForwardTokensSpec,
    /// ID-token claims copied to upstream request headers.
    #[serde(default)]
    pub claims_to_headers: Vec<ClaimToHeaderSpec>,
    /// The claim holding roles, by path.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// PEM CA bundle for the HTTPS calls to the provider.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Allow a plain `http://` issuer (tests, sidecars). `validate` warns.
    #[serde(default)]
    pub insecure_http: bool,
    /// Deadline of one call to the provider.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

/// The session cookie's name and attributes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCookieSpec {
    #[serde(default = "default_cookie_name")]
    pub name: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default = "default_cookie_path")]
    pub path: String,
    /// `Secure` (only sent over HTTPS). Turn off only for plain-http tests.
    #[serde(default = "default_true")]
    pub secure: bool,
    #[serde(default)]
    pub same_site: SameSiteSpec,
}

impl Default for SessionCookieSpec {
    fn default() -> Self {
        Self {
            name: default_cookie_name(),
            domain: None,
            path: default_cookie_path(),
            secure: true,
            same_site: SameSiteSpec::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum SameSiteSpec {
    #[default]
    Lax,
    Strict,
    None,
}

/// One cookie-sealing key: 32 bytes, base64 in `secret` or in a file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionKeySpec {
    /// Written into the cookie so the right key opens it after a rotation.
    pub id: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
}

/// Tokens the backend receives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardTokensSpec {
    /// Header for the access token; `authorization` sends `Bearer <token>`.
    #[serde(default)]
    pub access_token_header: Option<String>,
    /// Header for the ID token.
    #[serde(default)]
    pub id_token_header: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_scopes() -> Vec<String> {
    vec![
        "openid".to_owned(),
        "profile".to_owned(),
        "email".to_owned(),
    ]
}
fn default_logout_path() -> String {
    "/oauth2/logout".to_owned()
}
fn default_session_ttl() -> Duration {
    Duration::from_secs(8 * 3600)
}
fn default_max_sessions() -> usize {
    100_000
}
fn default_refresh_before() -> Duration {
    Duration::from_secs(60)
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}
fn default_roles_claim() -> String {
    "roles".to_owned()
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_cookie_name() -> String {
    "portcullis_session".to_owned()
}
fn default_cookie_path() -> String {
    "/".to_owned()
}
