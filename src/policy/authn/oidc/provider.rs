//! The identity provider as the login flow sees it: its endpoints (from
//! discovery, fetched on first use and kept; single flight), its token
//! endpoint (client_secret_basic), and ID-token verification with the
//! provider's key set and the `jwt` policy's signature and claim checks.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde_json::Value;

use crate::config::spec_jwt::KeySourceSpec;
use crate::config::spec_oidc::OidcSpec;
use crate::net::http_client::HttpClient;
use crate::observe::metrics_identity::FetchMetrics;
use crate::policy::authn::discovery::{self, Discovery};
use crate::policy::authn::jwt::jws::{self, Algorithm};
use crate::policy::authn::jwt::keys::{FetchFailure, ProviderKeys};
use crate::policy::authn::jwt::{check_signature, claims};

/// Largest token-endpoint or discovery answer read.
const MAX_ANSWER: usize = 256 * 1024;
/// Discovery documents are refetched at most this often after a failure.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// A token endpoint answer (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why a token call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The provider could not be reached or answered garbage: retry later.
    Unavailable,
    /// The provider refused the grant (expired code, revoked refresh token).
    Refused,
}

#[derive(Debug)]
pub struct IdentityProvider {
    pub issuer: String,
    client_id: String,
    basic_auth: HeaderValue,
    client: HttpClient,
    endpoints: ArcSwapOption<Discovery>,
    fetching: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// The last discovery failure (for the admin API).
    last_discovery_error: arc_swap::ArcSwapOption<FetchFailure>,
    metrics: FetchMetrics,
    pub keys: Arc<ProviderKeys>,
    algorithms: Vec<Algorithm>,
    leeway_secs: u64,
}

impl IdentityProvider {
    pub fn compile(
        spec: &OidcSpec,
        client_secret: &str,
        metrics: &FetchMetrics,
    ) -> Result<Self, String> {
        let client = HttpClient::new(
            spec.ca_file.as_deref(),
            spec.insecure_http,
            spec.timeout,
            MAX_ANSWER,
        )?;
        let keys = ProviderKeys::compile(
            &KeySourceSpec {
                discovery: Some(spec.issuer.clone()),
                ca_file: spec.ca_file.clone(),
                insecure_http: spec.insecure_http,
                refresh: Duration::from_secs(300),
                timeout: spec.timeout,
                ..KeySourceSpec::default()
            },
            metrics.clone(),
        )?;
        let mut algorithms = Vec::with_capacity(spec.algorithms.len());
        for (i, name) in spec.algorithms.iter().enumerate() {
            algorithms.push(
                Algorithm::from_name(name)
                    .ok_or_else(|| format!("algorithms[{i}]: unsupported algorithm {name:?}"))?,
            );
        }
        // RFC 6749 §2.3.1: both parts form-encoded before Basic.
        let (mut id, mut secret) = (String::new(), String::new());
        crate::net::http_client::percent_encode_into(&spec.client_id, &mut id);
        crate::net::http_client::percent_encode_into(client_secret, &mut secret);
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        Ok(Self {
            issuer: spec.issuer.clone(),
            client_id: spec.client_id.clone(),
            basic_auth: HeaderValue::from_str(&basic)
                .map_err(|_| "client_secret: not usable in a header".to_owned())?,
            client,
            endpoints: ArcSwapOption::empty(),
            fetching: tokio::sync::Mutex::new(None),
            last_discovery_error: arc_swap::ArcSwapOption::empty(),
            metrics: metrics.clone(),
            keys: Arc::new(keys),
            algorithms,
            leeway_secs: spec.leeway.as_secs(),
        })
    }

    /// The provider's endpoints; `None` when discovery fails (the caller
    /// answers 503). Fetched once, single flight.
    pub async fn endpoints(&self) -> Option<Arc<Discovery>> {
        if let Some(doc) = self.endpoints.load_full() {
            return Some(doc);
        }
        let mut last_failure = self.fetching.lock().await;
        if let Some(doc) = self.endpoints.load_full() {
            return Some(doc);
        }
        if last_failure.is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE) {
            return None;
        }
        let found = match discovery::fetch(&self.client, &self.issuer, &self.metrics).await {
            Ok(doc) if doc.issuer.as_deref() == Some(self.issuer.as_str()) => {
                if doc.authorization_endpoint.is_none() || doc.token_endpoint.is_none() {
                    Err("discovery lacks authorization or token endpoint".to_owned())
                } else {
                    Ok(Arc::new(doc))
                }
            }
            Ok(doc) => Err(format!(
                "discovery issuer mismatch: published {:?}",
                doc.issuer
            )),
            Err(e) => Err(e),
        };
        match found {
            Ok(doc) => {
                self.endpoints.store(Some(Arc::clone(&doc)));
                self.last_discovery_error.store(None);
                *last_failure = None;
                Some(doc)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "OIDC discovery failed");
                self.last_discovery_error.store(Some(Arc::new(FetchFailure {
                    error: e,
                    at: std::time::SystemTime::now(),
                })));
                *last_failure = Some(std::time::Instant::now());
                None
            }
        }
    }

    /// The discovered endpoints, if discovery has succeeded (admin API).
    pub fn discovered(&self) -> Option<Arc<Discovery>> {
        self.endpoints.load_full()
    }

    /// The last discovery failure, when the last attempt failed.
    pub fn last_discovery_error(&self) -> Option<Arc<FetchFailure>> {
        self.last_discovery_error.load_full()
    }

    /// Calls the token endpoint with `form` (the grant), authenticated
    /// with client_secret_basic.
    pub async fn token(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, TokenError> {
        let endpoints = self.endpoints().await.ok_or(TokenError::Unavailable)?;
        let url = endpoints
            .token_endpoint
            .as_deref()
            .ok_or(TokenError::Unavailable)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, self.basic_auth.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let answer = self
            .client
            .post_form(url, headers, form)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "token endpoint unreachable");
                TokenError::Unavailable
            })?;
        if answer.status.is_server_error() {
            return Err(TokenError::Unavailable);
        }
        if !answer.status.is_success() {
            return Err(TokenError::Refused);
        }
        serde_json::from_slice(&answer.body).map_err(|_| TokenError::Unavailable)
    }

    /// Verifies an ID token (signature, `iss`, `aud` = our client id,
    /// times, and `nonce` when given); returns its claims.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
        now: u64,
    ) -> Result<Value, &'static str> {
        let jws = jws::parse(token).map_err(|_| "malformed_id_token")?;
        if !self.algorithms.contains(&jws.alg) {
            return Err("unsupported_algorithm");
        }
        self.keys.refresh_if_stale();
        let mut verified = check_signature(&jws, &self.keys.current());
        if verified == Err("unknown_kid") {
            // First use or a rotated key: fetch now (single flight, rate limited).
            if self.keys.refetch_for_unknown_kid().await {
                verified = check_signature(&jws, &self.keys.current());
            }
        }
        verified?;
        let claims: Value =
            serde_json::from_slice(&jws.payload).map_err(|_| "malformed_id_token")?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err("unknown_issuer");
        }
        let audiences = [self.client_id.clone()];
        let rules = claims::ClaimRules {
            audiences: &audiences,
            required: &[],
            leeway_secs: self.leeway_secs,
            require_exp: true,
        };
        claims::check(&claims, &rules, now).map_err(claims::ClaimError::reason)?;
        authorized_party(&claims, &self.client_id)?;
        if let Some(expected) = nonce {
            let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
            if !super::flow::same(got.as_bytes(), expected.as_bytes()) {
                return Err("nonce_mismatch");
            }
        }
        Ok(claims)
    }
}

/// OIDC Core 3.1.3.7 steps 4 and 5: an ID token for several audiences must
/// name in `azp` the client it was issued to, and an `azp`, when present,
/// must be this client.
fn authorized_party(claims: &Value, client_id: &str) -> Result<(), &'static str> {
    let several = matches!(claims.get("aud"), Some(Value::Array(list)) if list.len() > 1);
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(Value::String(_)) => Err("azp_mismatch"),
        None | Some(Value::Null) if several => Err("azp_required"),
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err("invalid_token"),
    }
}

#[cfg(test)]
mod tests {
    use super::authorized_party;
    use serde_json::json;

    #[test]
    fn azp_names_the_client_when_several_audiences() {
        let ok = [
            json!({"aud": "web"}),
            json!({"aud": ["web"]}),
            json!({"aud": ["web", "api"], "azp": "web"}),
            json!({"aud": "web", "azp": "web"}),
        ];
        for claims in ok {
            assert_eq!(authorized_party(&claims, "web"), Ok(()), "{claims}");
        }
        let refused = [
            (json!({"aud": ["web", "api"]}), "azp_required"),
            (json!({"aud": ["web", "api"], "azp": "api"}), "azp_mismatch"),
            (json!({"aud": "web", "azp": "other"}), "azp_mismatch"),
            (json!({"aud": ["web", "api"], "azp": 7}), "invalid_token"),
        ];
        for (claims, reason) in refused {
            assert_eq!(authorized_party(&claims, "web"), Err(reason), "{claims}");
        }
    }
}
