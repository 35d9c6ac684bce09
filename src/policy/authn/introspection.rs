//! `introspection`: opaque bearer tokens checked at an OAuth 2.0 token
//! introspection endpoint (RFC 7662), the gateway authenticating with
//! client_secret_basic or client_secret_post. An `active` answer becomes
//! the principal and is cached (bounded, never past the token's `exp` nor
//! `cache_ttl`); an inactive token is refused (`introspection_inactive`);
//! an unreachable endpoint fails closed (503) unless `fail_open` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::Value;

use crate::config::spec_introspection::{ClientAuthSpec, IntrospectionSpec};
use crate::net::http_client::{HttpClient, percent_encode_into};
use crate::observe::metrics_identity::{FetchMetrics, fetch as what};
use crate::policy::authn::cache::CredentialCache;
use crate::policy::authn::jwt::string_list;
use crate::policy::authn::token::{self, TokenSource};
use crate::policy::principal::{AuthMethod, Principal, claim_path, claim_text};
use crate::policy::{PolicyInput, RequestContext};

/// Largest introspection answer read.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct IntrospectionCounters {
    pub active: AtomicU64,
    pub cached: AtomicU64,
    pub inactive: AtomicU64,
    pub unavailable: AtomicU64,
    /// Latency of the last call, microseconds.
    pub last_micros: AtomicU64,
}

#[derive(Debug)]
pub struct Introspection {
    pub spec: IntrospectionSpec,
    client: HttpClient,
    client_secret: String,
    basic_auth: Option<HeaderValue>,
    sources: Vec<TokenSource>,
    cache: CredentialCache<Principal>,
    claim_headers: Vec<(String, HeaderName)>,
    pub counters: IntrospectionCounters,
    metrics: FetchMetrics,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    /// The endpoint is down and `fail_open` let the request through.
    FailedOpen,
    /// 401 with this reason (`token_missing`, `introspection_inactive`, ...).
    Failed(&'static str),
    /// The endpoint is down: 503.
    Unavailable,
}

/// What one call to the endpoint said.
enum Answer {
    Active(Box<Principal>, Option<u64>),
    Inactive,
    Unavailable,
}

impl Introspection {
    /// Compiles with metrics attached to nothing (unit tests).
    pub fn compile(spec: &IntrospectionSpec) -> Result<Self, String> {
        Self::compile_with(spec, &FetchMetrics::detached())
    }

    /// Compiles; calls to the endpoint are counted in `metrics`.
    pub fn compile_with(spec: &IntrospectionSpec, metrics: &FetchMetrics) -> Result<Self, String> {
        let client_secret = crate::policy::authn::oidc::client_secret(
            spec.client_secret.as_deref(),
            spec.client_secret_file.as_deref(),
        )?;
        let client = HttpClient::new(
            spec.ca_file.as_deref(),
            spec.insecure_http,
            spec.timeout,
            MAX_ANSWER,
        )?;
        let basic_auth = match spec.auth_method {
            ClientAuthSpec::ClientSecretBasic => {
                // RFC 6749 §2.3.1: form-encode both parts before Basic.
                let (mut id, mut secret) = (String::new(), String::new());
                percent_encode_into(&spec.client_id, &mut id);
                percent_encode_into(&client_secret, &mut secret);
                let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
                Some(
                    HeaderValue::from_str(&value)
                        .map_err(|_| "client_secret: not usable in a header".to_owned())?,
                )
            }
            ClientAuthSpec::ClientSecretPost => None,
        };
        let mut sources = Vec::with_capacity(spec.from.len());
        for (i, s) in spec.from.iter().enumerate() {
            sources.push(TokenSource::compile(s).map_err(|e| format!("from[{i}]: {e}"))?);
        }
        if sources.is_empty() {
            return Err("from: at least one token source is required".to_owned());
        }
        let mut claim_headers = Vec::with_capacity(spec.claims_to_headers.len());
        for (i, c) in spec.claims_to_headers.iter().enumerate() {
            let name = HeaderName::from_bytes(c.header.as_bytes())
                .map_err(|_| format!("claims_to_headers[{i}].header: invalid header name"))?;
            claim_headers.push((c.claim.clone(), name));
        }
        Ok(Self {
            spec: spec.clone(),
            client,
            client_secret,
            basic_auth,
            sources,
            cache: CredentialCache::new(spec.cache_entries),
            claim_headers,
            counters: IntrospectionCounters::default(),
            metrics: metrics.clone(),
        })
    }

    pub async fn authenticate(
        &self,
        policy: &Arc<str>,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        now: u64,
    ) -> Outcome {
        for (_, name) in &self.claim_headers {
            ctx.upstream_headers.remove(name.clone());
        }
        let Some((source, token)) = token::first(&self.sources, input.headers, input.query) else {
            return Outcome::Failed("token_missing");
        };
        if token.len() > self.spec.max_token_bytes {
            return Outcome::Failed("token_too_large");
        }
        let principal = match self.cache.get(token.as_bytes(), now) {
            Some(p) => {
                self.counters.cached.fetch_add(1, Ordering::Relaxed);
                p
            }
            None => match self.introspect(policy, token, now).await {
                Answer::Active(principal, exp) => {
                    self.counters.active.fetch_add(1, Ordering::Relaxed);
                    let principal: Arc<Principal> = Arc::new(*principal);
                    let until = exp
                        .unwrap_or(u64::MAX)
                        .min(now.saturating_add(self.spec.cache_ttl.as_secs()));
                    self.cache
                        .insert(token.as_bytes(), Arc::clone(&principal), until, now);
                    principal
                }
                Answer::Inactive => {
                    self.counters.inactive.fetch_add(1, Ordering::Relaxed);
                    return Outcome::Failed("introspection_inactive");
                }
                Answer::Unavailable => {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    return if self.spec.fail_open {
                        Outcome::FailedOpen
                    } else {
                        Outcome::Unavailable
                    };
                }
            },
        };
        for (path, name) in &self.claim_headers {
            if let Some(value) = principal.claim(path)
                && let Ok(value) = HeaderValue::from_str(&claim_text(value))
            {
                ctx.upstream_headers.set(name.clone(), value);
            }
        }
        if self.spec.strip_token {
            source.strip(&mut ctx.upstream_headers);
        }
        Outcome::Authenticated(principal)
    }

    async fn introspect(&self, policy: &Arc<str>, token: &str, now: u64) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        match &self.basic_auth {
            Some(basic) => {
                headers.insert(header::AUTHORIZATION, basic.clone());
            }
            None => {
                form.push(("client_id", self.spec.client_id.as_str()));
                form.push(("client_secret", self.client_secret.as_str()));
            }
        }
        let started = Instant::now();
        let result = self
            .client
            .post_form(&self.spec.endpoint, headers, &form)
            .await;
        let took = started.elapsed();
        self.counters
            .last_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        let answer = match result {
            Ok(a) if a.status.is_success() => a,
            Ok(a) => {
                self.metrics
                    .observe(what::INTROSPECTION, "http_error", took);
                tracing::warn!(
                    status = a.status.as_u16(),
                    "introspection endpoint refused the call"
                );
                return Answer::Unavailable;
            }
            Err(e) => {
                self.metrics.observe(what::INTROSPECTION, e.code(), took);
                tracing::warn!(error = %e, "introspection endpoint unreachable");
                return Answer::Unavailable;
            }
        };
        let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
            self.metrics
                .observe(what::INTROSPECTION, "bad_document", took);
            return Answer::Unavailable;
        };
        self.metrics.observe(what::INTROSPECTION, "ok", took);
        read_answer(policy, &self.spec.roles_claim, body, now)
    }
}

/// The principal an introspection answer stands for (RFC 7662 §2.2):
/// `active` must be the boolean `true` and `exp`, when present, a number
/// in the future.
fn read_answer(policy: &Arc<str>, roles_claim: &str, body: Value, now: u64) -> Answer {
    if body.get("active") != Some(&Value::Bool(true)) {
        return Answer::Inactive;
    }
    let exp = match body.get("exp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(exp) if exp > now => Some(exp),
            _ => return Answer::Inactive,
        },
        Some(_) => return Answer::Inactive,
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let subject = text("sub")
        .or_else(|| text("username"))
        .or_else(|| text("client_id"))
        .unwrap_or_default();
    let mut p = Principal::new(AuthMethod::Introspection, Arc::clone(policy), subject);
    p.issuer = text("iss");
    p.key_id = text("client_id");
    p.scopes = string_list(body.get("scope"));
    p.roles = string_list(claim_path(&body, roles_claim));
    p.claims = body;
    Answer::Active(Box::new(p), exp)
}

/// Reuses the previous generation's policy when its spec is unchanged, so
/// cached answers survive a reload.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    spec: &IntrospectionSpec,
    metrics: &FetchMetrics,
) -> Result<Arc<Introspection>, String> {
    if let Some(crate::policy::PolicyKind::Introspection(old)) = previous
        && old.spec == *spec
    {
        return Ok(Arc::clone(old));
    }
    Introspection::compile_with(spec, metrics).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_become_principals_or_refusals() {
        let policy: Arc<str> = "p".into();
        let body = json!({"active": true, "sub": "u1", "client_id": "app",
            "scope": "read write", "exp": 2000, "iss": "https://as", "roles": ["admin"], "tenant": "t1"});
        let Answer::Active(p, exp) = read_answer(&policy, "roles", body, 1000) else {
            panic!("active answer refused");
        };
        assert_eq!(p.subject, "u1");
        assert_eq!(p.key_id.as_deref(), Some("app"));
        assert_eq!(p.scopes, ["read", "write"]);
        assert_eq!(p.roles, ["admin"]);
        assert_eq!(p.claim("tenant"), Some(&json!("t1")));
        assert_eq!(p.method, AuthMethod::Introspection);
        assert_eq!(exp, Some(2000));
        for inactive in [
            json!({"active": false, "sub": "u"}),
            json!({"active": "true", "sub": "u"}),
            json!({"sub": "u"}),
            json!({"active": true, "exp": 999}),
            json!({"active": true, "exp": "9999999999"}),
            json!([1, 2]),
        ] {
            assert!(
                matches!(
                    read_answer(&policy, "roles", inactive.clone(), 1000),
                    Answer::Inactive
                ),
                "{inactive}"
            );
        }
        // No sub: username, then client_id.
        let Answer::Active(p, _) = read_answer(
            &policy,
            "roles",
            json!({"active": true, "client_id": "svc"}),
            1000,
        ) else {
            panic!("refused");
        };
        assert_eq!(p.subject, "svc");
    }
}
