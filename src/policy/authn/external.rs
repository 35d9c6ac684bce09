//! `external`: asks an authorization service about each request (forward
//! authentication). A 2xx answer allows and may copy headers to the
//! upstream request and name the user; any other status is relayed to the
//! client (status, chosen headers, body); an unreachable or slow service
//! fails closed (503) unless `fail_open`. Allow decisions may be cached by
//! chosen request headers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::config::spec_external::ExternalSpec;
use crate::http::reject::{Rejection, Relayed};
use crate::net::http_client::HttpClient;
use crate::policy::authn::cache::CredentialCache;
use crate::policy::principal::{AuthMethod, Principal};
use crate::policy::{BodyBudget, PolicyInput, RequestContext};

/// Largest answer read from the auth service.
const MAX_ANSWER: usize = 64 * 1024;

/// A cached allow: the headers to copy and the principal.
#[derive(Debug)]
pub struct Allowed {
    headers: Vec<(HeaderName, HeaderValue)>,
    principal: Option<Arc<Principal>>,
}

#[derive(Debug, Default)]
pub struct ExternalCounters {
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub unavailable: AtomicU64,
    pub cached: AtomicU64,
}

#[derive(Debug)]
pub struct External {
    pub spec: ExternalSpec,
    client: HttpClient,
    to_auth: Vec<HeaderName>,
    to_upstream: Vec<HeaderName>,
    to_client: Vec<HeaderName>,
    subject: Option<HeaderName>,
    cache_key: Vec<HeaderName>,
    cache: Option<(CredentialCache<Allowed>, u64)>,
    pub counters: ExternalCounters,
}

/// What the policy decided.
#[derive(Debug)]
pub enum Outcome {
    Allow(Option<Arc<Principal>>),
    Deny(Rejection),
}

fn names(field: &str, list: &[String]) -> Result<Vec<HeaderName>, String> {
    list.iter()
        .map(|n| {
            HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("{field}: invalid header name {n:?}"))
        })
        .collect()
}

impl External {
    pub fn compile(spec: &ExternalSpec) -> Result<Self, String> {
        let uri: http::Uri = spec
            .url
            .parse()
            .map_err(|_| format!("url: invalid URL {:?}", spec.url))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(format!("url: invalid URL {:?}", spec.url));
        }
        let client = HttpClient::new(spec.ca_file.as_deref(), true, spec.timeout, MAX_ANSWER)?;
        let cache = match &spec.cache {
            Some(c) => {
                if c.key.is_empty() {
                    return Err("cache.key: at least one header is required".to_owned());
                }
                Some((CredentialCache::new(c.max_entries), c.ttl.as_secs().max(1)))
            }
            None => None,
        };
        Ok(Self {
            spec: spec.clone(),
            client,
            to_auth: names("headers_to_auth", &spec.headers_to_auth)?,
            to_upstream: names("headers_to_upstream", &spec.headers_to_upstream)?,
            to_client: names("headers_to_client", &spec.headers_to_client)?,
            subject: spec
                .subject_header
                .as_deref()
                .map(|h| names("subject_header", &[h.to_owned()]).map(|mut v| v.remove(0)))
                .transpose()?,
            cache_key: spec
                .cache
                .as_ref()
                .map_or(Ok(Vec::new()), |c| names("cache.key", &c.key))?,
            cache,
            counters: ExternalCounters::default(),
        })
    }

    /// The body budget when the service wants the body.
    pub fn body_budget(&self) -> Option<BodyBudget> {
        (self.spec.include_body_bytes > 0).then_some(BodyBudget {
            max_bytes: self.spec.include_body_bytes,
            inspect_partial: true,
        })
    }

    fn cache_credential(&self, headers: &HeaderMap) -> Option<Vec<u8>> {
        self.cache.as_ref()?;
        let mut key = Vec::new();
        for name in &self.cache_key {
            key.extend_from_slice(name.as_str().as_bytes());
            key.push(0);
            for v in headers.get_all(name) {
                key.extend_from_slice(v.as_bytes());
                key.push(0);
            }
            key.push(1);
        }
        Some(key)
    }

    fn apply(&self, allowed: &Allowed, ctx: &mut RequestContext) -> Outcome {
        for (name, value) in &allowed.headers {
            ctx.upstream_headers.set(name.clone(), value.clone());
        }
        Outcome::Allow(allowed.principal.clone())
    }

    /// Asks the service about the request (with `body` when configured).
    pub async fn check(
        &self,
        policy: &Arc<str>,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        body: Option<&[u8]>,
        now: u64,
    ) -> Outcome {
        // Headers the service will set never come from the client.
        for name in &self.to_upstream {
            ctx.upstream_headers.remove(name.clone());
        }
        let credential = self.cache_credential(input.headers);
        if let (Some((cache, _)), Some(key)) = (&self.cache, &credential)
            && let Some(allowed) = cache.get(key, now)
        {
            self.counters.cached.fetch_add(1, Ordering::Relaxed);
            return self.apply(&allowed, ctx);
        }
        let mut headers = HeaderMap::new();
        for name in &self.to_auth {
            for v in input.headers.get_all(name) {
                headers.append(name.clone(), v.clone());
            }
        }
        let uri = match input.query {
            Some(q) => format!("{}?{q}", input.path),
            None => input.path.to_owned(),
        };
        let facts = [
            ("x-forwarded-method", input.method.as_str().to_owned()),
            ("x-forwarded-host", input.host.to_owned()),
            ("x-forwarded-uri", uri.clone()),
            ("x-forwarded-for", input.client_ip.to_string()),
            ("x-original-method", input.method.as_str().to_owned()),
            ("x-original-url", format!("//{}{uri}", input.host)),
        ];
        for (name, value) in facts {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let (method, payload) = match body {
            Some(b) => (Method::POST, Bytes::copy_from_slice(b)),
            None => (Method::GET, Bytes::new()),
        };
        let answer = match self
            .client
            .send(method, &self.spec.url, headers, payload)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(policy = %policy, error = %e, "external authorization service unavailable");
                if self.spec.fail_open {
                    ctx.note = Some((Arc::clone(policy), "external_auth_fail_open"));
                    return Outcome::Allow(None);
                }
                return Outcome::Deny(Rejection::AuthUnavailable {
                    policy: Arc::clone(policy),
                    reason: "external_auth_unavailable",
                });
            }
        };
        if answer.status.is_success() {
            self.counters.allowed.fetch_add(1, Ordering::Relaxed);
            let copied: Vec<(HeaderName, HeaderValue)> = self
                .to_upstream
                .iter()
                .filter_map(|n| answer.headers.get(n).map(|v| (n.clone(), v.clone())))
                .collect();
            let principal = self
                .subject
                .as_ref()
                .and_then(|n| answer.headers.get(n))
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty())
                .map(|subject| {
                    Arc::new(Principal::new(
                        AuthMethod::External,
                        Arc::clone(policy),
                        subject,
                    ))
                });
            let allowed = Allowed {
                headers: copied,
                principal,
            };
            let outcome = self.apply(&allowed, ctx);
            if let (Some((cache, ttl)), Some(key)) = (&self.cache, &credential) {
                cache.insert(key, Arc::new(allowed), now + ttl, now);
            }
            return outcome;
        }
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        Outcome::Deny(self.refusal(policy, input, answer.status, &answer.headers, answer.body))
    }

    /// The client's answer for a refusal: the service's status, chosen
    /// headers and body; a 401 becomes a redirect to `signin_url` when set.
    fn refusal(
        &self,
        policy: &Arc<str>,
        input: &PolicyInput<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Rejection {
        if status == StatusCode::UNAUTHORIZED
            && let Some(signin) = &self.spec.signin_url
        {
            let mut original = String::new();
            let target = match input.query {
                Some(q) => format!("https://{}{}?{q}", input.host, input.path),
                None => format!("https://{}{}", input.host, input.path),
            };
            crate::net::http_client::percent_encode_into(&target, &mut original);
            let sep = if signin.contains('?') { '&' } else { '?' };
            if let Ok(location) = HeaderValue::from_str(&format!("{signin}{sep}rd={original}")) {
                return Rejection::LoginRedirect {
                    policy: Arc::clone(policy),
                    location,
                    cookies: Vec::new(),
                };
            }
        }
        // Anything but a client error or redirect from the service is its
        // failure, not a verdict on the client: 403 (still denied).
        let status = if status.is_client_error() || status.is_redirection() {
            status
        } else {
            StatusCode::FORBIDDEN
        };
        let mut relayed = HeaderMap::new();
        for name in &self.to_client {
            for v in headers.get_all(name) {
                relayed.append(name.clone(), v.clone());
            }
        }
        Rejection::ExternalDenied(Box::new(Relayed {
            policy: Arc::clone(policy),
            status,
            headers: relayed,
            body,
        }))
    }
}
