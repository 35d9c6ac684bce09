//! `jwt`: bearer-token authentication. The token's `iss` picks the
//! provider, the provider's key set (and only keys whose type allows the
//! token's algorithm) verifies the signature, the registered claims are
//! checked, and the claims become the request's principal. Verified tokens
//! are cached until their expiry, so the usual request costs a hash and a
//! map lookup, not a signature check.

pub mod claims;
pub mod jwk;
pub mod jws;
pub mod keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::config::spec_jwt::JwtSpec;
use crate::observe::metrics_identity::FetchMetrics;
use crate::policy::authn::cache::CredentialCache;
use crate::policy::authn::token::{self, TokenSource};
use crate::policy::principal::{AuthMethod, Principal, claim_path, claim_text};
use crate::policy::{PolicyInput, RequestContext};

use jws::Algorithm;
use keys::ProviderKeys;

/// Tokens without `exp` (when allowed) or long-lived ones are re-verified
/// at least this often.
const MAX_CACHE_SECS: u64 = 300;
/// Keys tried for a token without `kid`.
const MAX_KEYS_TRIED: usize = 8;

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    required: Vec<String>,
    pub keys: Arc<ProviderKeys>,
}

#[derive(Debug, Default)]
pub struct JwtCounters {
    pub verified: AtomicU64,
    pub cached: AtomicU64,
    pub anonymous: AtomicU64,
    pub failed: AtomicU64,
}

/// A compiled `jwt` policy.
#[derive(Debug)]
pub struct Jwt {
    pub spec: JwtSpec,
    pub providers: Vec<Provider>,
    sources: Vec<TokenSource>,
    cache: CredentialCache<Verified>,
    claim_headers: Vec<(String, HeaderName)>,
    pub counters: JwtCounters,
}

/// A verified token as the cache keeps it: who it is and the values of the
/// claim headers (indexes into `claim_headers`, in order).
#[derive(Debug)]
struct Verified {
    principal: Arc<Principal>,
    headers: Vec<(usize, HeaderValue)>,
}

/// What the policy found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    /// No token and `optional: true`.
    Anonymous,
    /// A reason code (`token_missing`, `token_expired`, `bad_signature`, ...).
    Failed(&'static str),
}

impl Jwt {
    /// Compiles with metrics attached to nothing (unit tests, benches).
    pub fn compile(spec: &JwtSpec) -> Result<Self, String> {
        Self::compile_with(spec, &FetchMetrics::detached())
    }

    /// Compiles; key-set fetches are counted in `metrics`.
    pub fn compile_with(spec: &JwtSpec, metrics: &FetchMetrics) -> Result<Self, String> {
        if spec.providers.is_empty() {
            return Err("providers: at least one provider is required".to_owned());
        }
        let mut providers = Vec::with_capacity(spec.providers.len());
        for (i, p) in spec.providers.iter().enumerate() {
            let mut algorithms = Vec::with_capacity(p.algorithms.len());
            for name in &p.algorithms {
                algorithms.push(Algorithm::from_name(name).ok_or_else(|| {
                    format!("providers[{i}].algorithms: unsupported algorithm {name:?}")
                })?);
            }
            if algorithms.is_empty() {
                return Err(format!(
                    "providers[{i}].algorithms: at least one is required"
                ));
            }
            let keys = ProviderKeys::compile(&p.keys, metrics.clone())
                .map_err(|e| format!("providers[{i}].keys: {e}"))?;
            providers.push(Provider {
                name: p.name.clone(),
                issuer: p.issuer.clone(),
                audiences: p.audiences.clone(),
                algorithms,
                required: p.required_claims.clone(),
                keys: Arc::new(keys),
            });
        }
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
        let jwt = Self {
            spec: spec.clone(),
            providers,
            sources,
            cache: CredentialCache::new(spec.cache_entries),
            claim_headers,
            counters: JwtCounters::default(),
        };
        // Warm remote key sets now, not on the first request.
        for p in &jwt.providers {
            p.keys.refresh_if_stale();
        }
        Ok(jwt)
    }

    /// Authenticates the request at Unix time `now` and writes the
    /// upstream header edits (claims, token removal) into `ctx`.
    pub async fn authenticate(
        &self,
        policy: &Arc<str>,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        now: u64,
    ) -> Outcome {
        let Some((source, token)) = token::first(&self.sources, input.headers, input.query) else {
            if self.spec.optional {
                self.counters.anonymous.fetch_add(1, Ordering::Relaxed);
                self.claim_headers_from(&[], ctx);
                return Outcome::Anonymous;
            }
            return self.fail("token_missing");
        };
        if token.len() > self.spec.max_token_bytes {
            return self.fail("token_too_large");
        }
        let verified = match self.cache.get(token.as_bytes(), now) {
            Some(v) => {
                self.counters.cached.fetch_add(1, Ordering::Relaxed);
                v
            }
            None => match self.verify(policy, token, now).await {
                Ok((principal, expires)) => {
                    self.counters.verified.fetch_add(1, Ordering::Relaxed);
                    let verified = Arc::new(Verified {
                        headers: self.header_values(&principal),
                        principal: Arc::new(principal),
                    });
                    let until = expires.unwrap_or(u64::MAX).min(now + MAX_CACHE_SECS);
                    self.cache
                        .insert(token.as_bytes(), Arc::clone(&verified), until, now);
                    verified
                }
                Err(reason) => return self.fail(reason),
            },
        };
        self.claim_headers_from(&verified.headers, ctx);
        if self.spec.strip_token {
            source.strip(&mut ctx.upstream_headers);
        }
        Outcome::Authenticated(Arc::clone(&verified.principal))
    }

    /// The upstream header values a principal's claims give, worked out
    /// once per verified token (the cache keeps them with the principal).
    fn header_values(&self, principal: &Principal) -> Vec<(usize, HeaderValue)> {
        self.claim_headers
            .iter()
            .enumerate()
            .filter_map(|(i, (path, _))| {
                let value = HeaderValue::from_str(&claim_text(principal.claim(path)?)).ok()?;
                Some((i, value))
            })
            .collect()
    }

    /// Sets each claim header from `values` and removes the rest, so a
    /// client-sent copy never reaches the backend. (A refused request
    /// never goes upstream, so only passing outcomes need this.)
    fn claim_headers_from(&self, values: &[(usize, HeaderValue)], ctx: &mut RequestContext) {
        let mut values = values.iter().peekable();
        for (i, (_, name)) in self.claim_headers.iter().enumerate() {
            match values.next_if(|(j, _)| *j == i) {
                Some((_, value)) => ctx.upstream_headers.set(name.clone(), value.clone()),
                None => ctx.upstream_headers.remove(name.clone()),
            }
        }
    }

    fn fail(&self, reason: &'static str) -> Outcome {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        Outcome::Failed(reason)
    }

    async fn verify(
        &self,
        policy: &Arc<str>,
        token: &str,
        now: u64,
    ) -> Result<(Principal, Option<u64>), &'static str> {
        let jws = jws::parse(token).map_err(|e| match e {
            jws::ParseError::Malformed => "malformed_token",
            jws::ParseError::UnsupportedAlgorithm => "unsupported_algorithm",
            jws::ParseError::UnsupportedCritical => "unsupported_critical_header",
        })?;
        // The unverified `iss` only picks whose keys to try.
        let claims: Value = serde_json::from_slice(&jws.payload).map_err(|_| "malformed_token")?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or("unknown_issuer")?;
        let provider = self
            .providers
            .iter()
            .find(|p| p.issuer == iss)
            .ok_or("unknown_issuer")?;
        if !provider.algorithms.contains(&jws.alg) {
            return Err("unsupported_algorithm");
        }
        provider.keys.refresh_if_stale();
        let mut verified = check_signature(&jws, &provider.keys.current());
        if verified == Err("unknown_kid") && provider.keys.refetch_for_unknown_kid().await {
            verified = check_signature(&jws, &provider.keys.current());
        }
        verified?;
        let rules = claims::ClaimRules {
            audiences: &provider.audiences,
            required: &provider.required,
            leeway_secs: self.spec.leeway.as_secs(),
            require_exp: true,
        };
        let expires = claims::check(&claims, &rules, now).map_err(claims::ClaimError::reason)?;
        Ok((
            principal(policy, &self.spec.roles_claim, claims, jws.kid),
            expires,
        ))
    }
}

/// Verifies with the key named by `kid`, or (no `kid`) with the few keys
/// whose type allows the algorithm.
pub(crate) fn check_signature(jws: &jws::Jws<'_>, set: &keys::KeySet) -> Result<(), &'static str> {
    match &jws.kid {
        Some(kid) => {
            let key = set
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or("unknown_kid")?;
            if jws.verify(key) {
                Ok(())
            } else {
                Err("bad_signature")
            }
        }
        None => {
            let mut tried = 0;
            for key in set.keys.iter().filter(|k| k.allows(jws.alg)) {
                if tried == MAX_KEYS_TRIED {
                    break;
                }
                tried += 1;
                if jws.verify(key) {
                    return Ok(());
                }
            }
            if tried == 0 {
                Err("unknown_kid")
            } else {
                Err("bad_signature")
            }
        }
    }
}

/// The principal a verified token stands for (also used for ID tokens).
pub(crate) fn principal(
    policy: &Arc<str>,
    roles_claim: &str,
    claims: Value,
    kid: Option<String>,
) -> Principal {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut p = Principal::new(
        AuthMethod::Jwt,
        Arc::clone(policy),
        text("sub").unwrap_or_default(),
    );
    p.issuer = text("iss");
    p.key_id = text("azp").or_else(|| text("client_id")).or(kid);
    p.roles = string_list(claim_path(&claims, roles_claim));
    p.scopes = match claims.get("scope") {
        Some(scope @ Value::String(_)) => string_list(Some(scope)),
        _ => string_list(claims.get("scp")),
    };
    p.claims = claims;
    p
}

/// A list claim, or a space-separated string (OAuth `scope`).
pub(crate) fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Reuses the previous generation's policy when its spec is unchanged, so
/// fetched key sets and cached tokens survive a reload.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    spec: &JwtSpec,
    metrics: &FetchMetrics,
) -> Result<Arc<Jwt>, String> {
    if let Some(crate::policy::PolicyKind::Jwt(old)) = previous
        && old.spec == *spec
    {
        return Ok(Arc::clone(old));
    }
    Jwt::compile_with(spec, metrics).map(Arc::new)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
