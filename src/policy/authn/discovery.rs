//! OpenID Connect discovery (`/.well-known/openid-configuration`): the
//! endpoints an issuer publishes, for JWT key sets, browser login and token
//! introspection.

use http::HeaderMap;
use serde::Deserialize;

use crate::net::http_client::HttpClient;

/// The fields of a discovery document the gateway uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Discovery {
    pub issuer: Option<String>,
    pub jwks_uri: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
}

/// Fetches the discovery document of `issuer`.
pub async fn fetch(client: &HttpClient, issuer: &str) -> Result<Discovery, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let answer = client
        .get(&url, HeaderMap::new())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !answer.status.is_success() {
        return Err(format!("{url}: HTTP {}", answer.status.as_u16()));
    }
    serde_json::from_slice(&answer.body).map_err(|e| format!("{url}: {e}"))
}
