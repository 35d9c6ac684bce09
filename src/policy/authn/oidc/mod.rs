//! `oidc`: browser login with OpenID Connect. A request with a valid
//! session cookie gets the principal of its session (refreshing the access
//! token first when due); a browser navigation without one is sent to the
//! provider (code flow + PKCE), an API call gets a 401. The policy answers
//! its own callback and logout paths. The session lives on the server; the
//! browser holds only a sealed random id, which never reaches the backend.
//!
//! A route accepts either a bearer token or a session by listing a `jwt`
//! policy with `optional: true` before this one: a principal proved
//! earlier in the chain is kept, and this policy then only strips its cookies.

pub mod cookie;
pub mod flow;
pub mod logout;
pub mod provider;
pub mod refresh;
pub mod seal;
pub mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};

use crate::config::spec_oidc::OidcSpec;
use crate::http::reject::Rejection;
use crate::policy::principal::{Principal, claim_text};
use crate::policy::{PolicyInput, RequestContext};

use cookie::Cookies;
use provider::{IdentityProvider, TokenAnswer};

use crate::observe::metrics_identity::FetchMetrics;
use seal::Sealer;
use session::{MemoryStore, Session, SessionStore};

#[derive(Debug, Default)]
pub struct OidcCounters {
    pub logins: AtomicU64,
    pub sessions_used: AtomicU64,
    pub refreshed: AtomicU64,
    pub redirected: AtomicU64,
}

/// A compiled `oidc` policy.
#[derive(Debug)]
pub struct Oidc {
    pub spec: OidcSpec,
    pub provider: IdentityProvider,
    pub sealer: Sealer,
    pub cookies: Cookies,
    pub store: Arc<dyn SessionStore<Session>>,
    /// The path of `redirect_uri`, answered by the policy.
    callback_path: String,
    scope: String,
    access_header: Option<(HeaderName, bool)>,
    id_header: Option<HeaderName>,
    claim_headers: Vec<(String, HeaderName)>,
    pub counters: OidcCounters,
}

/// What the policy decided.
#[derive(Debug)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    /// An earlier policy already proved who the caller is.
    AlreadyAuthenticated,
    /// The policy answers itself (login redirect, callback, logout, 401, 503).
    Answer(Rejection),
}

/// A 401 for a request without a usable session.
pub fn unauthorized(policy: &Arc<str>, reason: &'static str) -> Rejection {
    let challenge = HeaderValue::from_str(&format!("Bearer realm=\"{policy}\""))
        .unwrap_or(HeaderValue::from_static("Bearer"));
    Rejection::Unauthorized {
        policy: Arc::clone(policy),
        reason,
        challenge,
    }
}

/// The client secret, inline or from its file.
pub fn client_secret(inline: Option<&str>, file: Option<&str>) -> Result<String, String> {
    match (inline, file) {
        (Some(s), None) => Ok(s.to_owned()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim_end().to_owned())
            .map_err(|e| format!("client_secret_file: cannot read {path}: {e}")),
        _ => Err("exactly one of client_secret, client_secret_file must be set".to_owned()),
    }
}

impl Oidc {
    /// Compiles `spec`; `store` keeps the previous generation's sessions
    /// (a reload that rotates keys or changes headers logs nobody out).
    pub fn compile(
        spec: &OidcSpec,
        store: Option<Arc<dyn SessionStore<Session>>>,
    ) -> Result<Self, String> {
        Self::compile_with(spec, store, &FetchMetrics::detached())
    }

    /// Compiles; discovery and key-set fetches are counted in `metrics`.
    pub fn compile_with(
        spec: &OidcSpec,
        store: Option<Arc<dyn SessionStore<Session>>>,
        metrics: &FetchMetrics,
    ) -> Result<Self, String> {
        let secret = client_secret(
            spec.client_secret.as_deref(),
            spec.client_secret_file.as_deref(),
        )?;
        let redirect: http::Uri = spec
            .redirect_uri
            .parse()
            .map_err(|_| "redirect_uri: invalid URL".to_owned())?;
        if redirect.authority().is_none() {
            return Err("redirect_uri: must be an absolute URL".to_owned());
        }
        let mut scopes = vec!["openid"];
        scopes.extend(
            spec.scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "openid"),
        );
        let access_header = match &spec.forward.access_token_header {
            Some(name) => Some((
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| "forward.access_token_header: invalid header name".to_owned())?,
                name.eq_ignore_ascii_case("authorization"),
            )),
            None => None,
        };
        let id_header = match &spec.forward.id_token_header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| "forward.id_token_header: invalid header name".to_owned())?,
            ),
            None => None,
        };
        let mut claim_headers = Vec::with_capacity(spec.claims_to_headers.len());
        for (i, c) in spec.claims_to_headers.iter().enumerate() {
            let name = HeaderName::from_bytes(c.header.as_bytes())
                .map_err(|_| format!("claims_to_headers[{i}].header: invalid header name"))?;
            claim_headers.push((c.claim.clone(), name));
        }
        let oidc = Self {
            provider: IdentityProvider::compile(spec, &secret, metrics)?,
            sealer: Sealer::compile(&spec.session_keys)?,
            cookies: Cookies::compile(&spec.cookie)?,
            store: store.unwrap_or_else(|| Arc::new(MemoryStore::new(spec.max_sessions))),
            callback_path: redirect.path().to_owned(),
            scope: scopes.join(" "),
            access_header,
            id_header,
            claim_headers,
            counters: OidcCounters::default(),
            spec: spec.clone(),
        };
        oidc.provider.keys.refresh_if_stale();
        Ok(oidc)
    }

    /// The session id in the request's (sealed) cookie; a cookie that does
    /// not open (tampered, foreign, retired key) is no session.
    pub fn session_id(&self, input: &PolicyInput<'_>) -> Option<Vec<u8>> {
        let sealed =
            crate::policy::authn::token::cookie(input.headers, &self.cookies.session_name)?;
        self.sealer.open(flow::PURPOSE_SESSION, sealed)
    }

    fn new_session(
        &self,
        policy: &Arc<str>,
        claims: serde_json::Value,
        id_token: String,
        answer: TokenAnswer,
        now: u64,
    ) -> Session {
        self.counters.logins.fetch_add(1, Ordering::Relaxed);
        flow::session_from(
            policy,
            &self.spec.roles_claim,
            claims,
            id_token,
            answer,
            now,
            self.spec.session_ttl.as_secs(),
        )
    }

    pub async fn authenticate(
        &self,
        policy: &Arc<str>,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        now: u64,
    ) -> Outcome {
        // Whatever happens, the backend sees neither our cookies nor
        // client-sent copies of the headers this policy sets.
        self.cookies
            .strip_upstream(input.headers, &mut ctx.upstream_headers);
        for name in self.own_headers() {
            ctx.upstream_headers.remove(name.clone());
        }
        if input.path == self.callback_path {
            return Outcome::Answer(flow::callback(self, policy, input, now).await);
        }
        if input.path == self.spec.logout_path {
            return Outcome::Answer(self.logout(policy, input, now).await);
        }
        if ctx.principal.is_some() {
            return Outcome::AlreadyAuthenticated;
        }
        let session = match self.session_id(input) {
            Some(id) => match self.store.get(&id, now) {
                Some(s) => self.fresh_session(policy, &id, s, now).await,
                None => None,
            },
            None => None,
        };
        if let Some(session) = session {
            self.counters.sessions_used.fetch_add(1, Ordering::Relaxed);
            self.forward(&session, ctx);
            return Outcome::Authenticated(Arc::clone(&session.principal));
        }
        if flow::is_navigation(input) {
            self.counters.redirected.fetch_add(1, Ordering::Relaxed);
            Outcome::Answer(flow::start_login(self, policy, input, now).await)
        } else {
            Outcome::Answer(unauthorized(policy, "session_required"))
        }
    }

    fn own_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.access_header
            .as_ref()
            .map(|(n, _)| n)
            .into_iter()
            .chain(self.id_header.as_ref())
            .chain(self.claim_headers.iter().map(|(_, n)| n))
    }

    /// Tokens (when configured) and claims to the upstream request.
    fn forward(&self, session: &Session, ctx: &mut RequestContext) {
        if let Some((name, bearer)) = &self.access_header {
            let value = if *bearer {
                HeaderValue::from_str(&format!("Bearer {}", session.access_token))
            } else {
                HeaderValue::from_str(&session.access_token)
            };
            if let Ok(value) = value {
                ctx.upstream_headers.set(name.clone(), value);
            }
        }
        if let Some(name) = &self.id_header
            && let Ok(value) = HeaderValue::from_str(&session.id_token)
        {
            ctx.upstream_headers.set(name.clone(), value);
        }
        for (path, name) in &self.claim_headers {
            if let Some(value) = session.principal.claim(path)
                && let Ok(value) = HeaderValue::from_str(&claim_text(value))
            {
                ctx.upstream_headers.set(name.clone(), value);
            }
        }
    }
}

/// Reuses the previous generation's policy when its spec is unchanged, so
/// sessions survive a reload.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    spec: &OidcSpec,
    metrics: &FetchMetrics,
) -> Result<Arc<Oidc>, String> {
    let mut store = None;
    if let Some(crate::policy::PolicyKind::Oidc(old)) = previous {
        if old.spec == *spec {
            return Ok(Arc::clone(old));
        }
        // Same provider and client and store size: the sessions stay valid.
        if old.spec.issuer == spec.issuer
            && old.spec.client_id == spec.client_id
            && old.spec.max_sessions == spec.max_sessions
        {
            store = Some(Arc::clone(&old.store));
        }
    }
    Oidc::compile_with(spec, store, metrics).map(Arc::new)
}
