//! OpenID Connect discovery (`/.well-known/openid-configuration`): the
//! endpoints an issuer publishes, for JWT key sets, browser login and token
//! introspection.

use http::HeaderMap;
use serde::Deserialize;

use crate::net::http_client::HttpClient;
use crate::observe::metrics_identity::{FetchMetrics, fetch as what};

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

/// Fetches the discovery document of `issuer`, counting the call.
pub async fn fetch(
    client: &HttpClient,
    issuer: &str,
    metrics: &FetchMetrics,
) -> Result<Discovery, String> {
    let started = std::time::Instant::now();
    let result = fetch_document(client, issuer).await;
    let code = match &result {
        Ok(_) => "ok",
        Err((code, _)) => code,
    };
    metrics.observe(what::DISCOVERY, code, started.elapsed());
    result.map_err(|(_, e)| e)
}

async fn fetch_document(
    client: &HttpClient,
    issuer: &str,
) -> Result<Discovery, (&'static str, String)> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let answer = client
        .get(&url, HeaderMap::new())
        .await
        .map_err(|e| (e.code(), format!("{url}: {e}")))?;
    if !answer.status.is_success() {
        return Err((
            "http_error",
            format!("{url}: HTTP {}", answer.status.as_u16()),
        ));
    }
    serde_json::from_slice(&answer.body).map_err(|e| ("bad_document", format!("{url}: {e}")))
}
