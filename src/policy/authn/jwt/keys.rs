//! A provider's verification keys: static (file, inline) or fetched (JWKS
//! URL, OIDC discovery). Fetched sets are refreshed in the background when
//! older than the refresh interval; a token with an unknown `kid` triggers
//! one refetch at once (single flight, at most one per 30 s per provider),
//! so a rotated key is accepted on the first request that uses it. A failed
//! fetch keeps the last good set.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use http::HeaderMap;

use crate::config::spec_jwt::KeySourceSpec;
use crate::net::http_client::HttpClient;
use crate::observe::metrics_identity::{FetchMetrics, fetch as what};
use crate::policy::authn::jwt::jwk::{self, Jwk};

/// On-demand refetches (unknown `kid`) are at most this frequent.
pub const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Largest JWKS or discovery document accepted.
const MAX_DOCUMENT: usize = 1 << 20;

/// One generation of keys.
#[derive(Debug, Default)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    /// When it was fetched (wall clock, for the admin API); `None` for
    /// static keys and before the first fetch.
    pub fetched_at: Option<SystemTime>,
}

#[derive(Debug)]
enum Source {
    Static,
    Remote {
        client: HttpClient,
        jwks_uri: Option<String>,
        discovery: Option<String>,
        refresh: Duration,
    },
}

/// Fetch outcomes, for the admin API (the metrics have the full story).
#[derive(Debug, Default)]
pub struct FetchCounters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// Latency of the last fetch, microseconds.
    pub last_micros: AtomicU64,
}

/// Why the last fetch failed, and when (cleared by a successful one).
#[derive(Debug, Clone)]
pub struct FetchFailure {
    pub error: String,
    pub at: SystemTime,
}

#[derive(Debug)]
pub struct ProviderKeys {
    source: Source,
    current: ArcSwap<KeySet>,
    /// Single flight for fetches.
    fetching: tokio::sync::Mutex<()>,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last fetch attempt (0 = never).
    last_attempt_ms: AtomicU64,
    /// Milliseconds since `epoch` of the last successful fetch.
    last_ok_ms: AtomicU64,
    /// Milliseconds since `epoch` of the last refetch for an unknown `kid`
    /// (the warm-up and periodic fetches do not count against its limit).
    last_on_demand_ms: AtomicU64,
    /// Bumped by every completed fetch, so waiters know one happened.
    generation: AtomicU64,
    pub counters: FetchCounters,
    last_error: arc_swap::ArcSwapOption<FetchFailure>,
    metrics: FetchMetrics,
}

impl ProviderKeys {
    pub fn compile(spec: &KeySourceSpec, metrics: FetchMetrics) -> Result<Self, String> {
        let set = [
            spec.jwks_uri.is_some(),
            spec.discovery.is_some(),
            spec.file.is_some(),
            spec.inline.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err("exactly one of jwks_uri, discovery, file, inline must be set".to_owned());
        }
        let (source, keys) = if let Some(inline) = &spec.inline {
            (Source::Static, static_keys(inline.as_bytes())?)
        } else if let Some(path) = &spec.file {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            (Source::Static, static_keys(&bytes)?)
        } else {
            let client = HttpClient::new(
                spec.ca_file.as_deref(),
                spec.insecure_http,
                spec.timeout,
                MAX_DOCUMENT,
            )?;
            let source = Source::Remote {
                client,
                jwks_uri: spec.jwks_uri.clone(),
                discovery: spec.discovery.clone(),
                refresh: spec.refresh,
            };
            (source, Vec::new())
        };
        Ok(Self {
            source,
            current: ArcSwap::from_pointee(KeySet {
                keys,
                fetched_at: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            epoch: Instant::now(),
            last_attempt_ms: AtomicU64::new(0),
            last_ok_ms: AtomicU64::new(0),
            last_on_demand_ms: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            counters: FetchCounters::default(),
            last_error: arc_swap::ArcSwapOption::empty(),
            metrics,
        })
    }

    /// Where the keys come from, for the admin API: `jwks_uri`,
    /// `discovery` (the issuer), or `static`.
    pub fn source(&self) -> (&'static str, Option<&str>) {
        match &self.source {
            Source::Static => ("static", None),
            Source::Remote {
                jwks_uri: Some(uri),
                ..
            } => ("jwks_uri", Some(uri.as_str())),
            Source::Remote { discovery, .. } => ("discovery", discovery.as_deref()),
        }
    }

    /// Time since the last successful fetch (`None`: never fetched, or static).
    pub fn since_last_fetch(&self) -> Option<Duration> {
        let last_ok = self.last_ok_ms.load(Ordering::Relaxed);
        (last_ok != 0).then(|| Duration::from_millis(self.now_ms().saturating_sub(last_ok)))
    }

    /// The last fetch's failure, if the last fetch failed.
    pub fn last_error(&self) -> Option<Arc<FetchFailure>> {
        self.last_error.load_full()
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.source, Source::Remote { .. })
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    fn now_ms(&self) -> u64 {
        // +1 so that 0 stays "never".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Starts a background refresh when the fetched set is older than the
    /// refresh interval (or was never fetched). Never waits.
    pub fn refresh_if_stale(self: &Arc<Self>) {
        let Source::Remote { refresh, .. } = &self.source else {
            return;
        };
        let last_ok = self.last_ok_ms.load(Ordering::Relaxed);
        let now = self.now_ms();
        let stale = last_ok == 0 || now.saturating_sub(last_ok) >= refresh.as_millis() as u64;
        // Retry a failing source no faster than the on-demand limit.
        let last_try = self.last_attempt_ms.load(Ordering::Relaxed);
        let cooling =
            last_try != 0 && now.saturating_sub(last_try) < MIN_REFETCH.as_millis() as u64;
        if stale && !(cooling && last_try > last_ok) && self.fetching.try_lock().is_ok() {
            let keys = Arc::clone(self);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    keys.fetch_now().await;
                });
            }
        }
    }

    /// Refetches because a token named a key the set lacks. Waits for the
    /// fetch (or for one already under way) unless one ran in the last
    /// [`MIN_REFETCH`]. Returns whether a newer set may be available.
    pub async fn refetch_for_unknown_kid(&self) -> bool {
        if !self.is_remote() {
            return false;
        }
        let seen = self.generation.load(Ordering::Acquire);
        let guard = self.fetching.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            // Someone else fetched while we waited.
            return true;
        }
        let last = self.last_on_demand_ms.load(Ordering::Relaxed);
        if last != 0 && self.now_ms().saturating_sub(last) < MIN_REFETCH.as_millis() as u64 {
            return false;
        }
        self.last_on_demand_ms
            .store(self.now_ms(), Ordering::Relaxed);
        self.fetch_locked().await;
        drop(guard);
        true
    }

    async fn fetch_now(&self) {
        let _guard = self.fetching.lock().await;
        self.fetch_locked().await;
    }

    /// One fetch; the caller holds `fetching`.
    async fn fetch_locked(&self) {
        let Source::Remote {
            client,
            jwks_uri,
            discovery,
            ..
        } = &self.source
        else {
            return;
        };
        self.last_attempt_ms.store(self.now_ms(), Ordering::Relaxed);
        let started = Instant::now();
        let result = fetch(
            client,
            jwks_uri.as_deref(),
            discovery.as_deref(),
            &self.metrics,
        )
        .await;
        self.counters
            .last_micros
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok(keys) => {
                self.counters.ok.fetch_add(1, Ordering::Relaxed);
                self.current.store(Arc::new(KeySet {
                    keys,
                    fetched_at: Some(SystemTime::now()),
                }));
                self.last_ok_ms.store(self.now_ms(), Ordering::Relaxed);
                self.last_error.store(None);
            }
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "JWKS fetch failed; keeping the last good key set");
                self.last_error.store(Some(Arc::new(FetchFailure {
                    error: e,
                    at: SystemTime::now(),
                })));
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }
}

fn static_keys(json: &[u8]) -> Result<Vec<Jwk>, String> {
    let (keys, _) = jwk::parse_set(json)?;
    if keys.is_empty() {
        return Err("the key set holds no usable signing key".to_owned());
    }
    Ok(keys)
}

async fn fetch(
    client: &HttpClient,
    jwks_uri: Option<&str>,
    discovery: Option<&str>,
    metrics: &FetchMetrics,
) -> Result<Vec<Jwk>, String> {
    let uri = match (jwks_uri, discovery) {
        (Some(uri), _) => uri.to_owned(),
        (None, Some(issuer)) => discover_jwks_uri(client, issuer, metrics).await?,
        (None, None) => return Err("no key source".to_owned()),
    };
    let started = Instant::now();
    let result = fetch_set(client, &uri).await;
    let code = match &result {
        Ok(_) => "ok",
        Err((code, _)) => code,
    };
    metrics.observe(what::JWKS, code, started.elapsed());
    result.map_err(|(_, e)| e)
}

/// One JWKS request; the error carries its metrics code.
async fn fetch_set(client: &HttpClient, uri: &str) -> Result<Vec<Jwk>, (&'static str, String)> {
    let answer = client
        .get(uri, HeaderMap::new())
        .await
        .map_err(|e| (e.code(), format!("{uri}: {e}")))?;
    if !answer.status.is_success() {
        return Err((
            "http_error",
            format!("{uri}: HTTP {}", answer.status.as_u16()),
        ));
    }
    let (keys, _) =
        jwk::parse_set(&answer.body).map_err(|e| ("bad_document", format!("{uri}: {e}")))?;
    if keys.is_empty() {
        return Err(("no_keys", format!("{uri}: no usable signing key")));
    }
    Ok(keys)
}

/// The `jwks_uri` of an OIDC issuer's discovery document.
pub async fn discover_jwks_uri(
    client: &HttpClient,
    issuer: &str,
    metrics: &FetchMetrics,
) -> Result<String, String> {
    let doc = crate::policy::authn::discovery::fetch(client, issuer, metrics).await?;
    doc.jwks_uri
        .ok_or_else(|| format!("{issuer}: discovery document has no jwks_uri"))
}
