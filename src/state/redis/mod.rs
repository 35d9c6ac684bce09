//! The Redis (or Valkey) store shared by replicas: one multiplexed
//! connection (`redis::aio::ConnectionManager`, reconnecting in the
//! background), a hard deadline on every call, and a circuit breaker so an
//! outage costs one timeout per interval. Requests never wait on Redis
//! longer than the deadline.
pub mod ban_sync;
pub mod breaker;
pub mod metrics;
pub mod rates;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Client, ConnectionInfo, IntoConnectionInfo};

use crate::config::spec_redis::RedisSpec;
use crate::observe::events::SecurityEvents;
use crate::state::StoreError;
use crate::state::key_hash::SharedKeyHasher;

use breaker::{Admit, Breaker, Switch};

/// Counters for `/metrics` (monotonic, relaxed).
#[derive(Debug, Default)]
pub struct RedisCounters {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    /// Calls not tried because the breaker was open.
    pub refused: AtomicU64,
}

/// The process's connection to the shared store (survives reloads).
pub struct RedisStore {
    client: Client,
    connection: ConnectionManager,
    timeout: Duration,
    breaker: Breaker,
    pub prefix: String,
    pub spec: RedisSpec,
    /// Client keys (rate limits) hashed with the shared secret.
    pub key_hasher: SharedKeyHasher,
    pub counters: RedisCounters,
    events: SecurityEvents,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.spec.url)
            .field("open", &self.breaker.is_open())
            .finish()
    }
}

impl RedisStore {
    /// Builds the client from the spec; connects lazily (startup never
    /// waits on Redis). Must run inside the tokio runtime.
    pub fn open(spec: &RedisSpec, events: SecurityEvents) -> Result<Arc<Self>, String> {
        let secret = std::fs::read(&spec.key_secret_file)
            .map_err(|e| format!("state.redis.key_secret_file: {e}"))?;
        let secret = secret.trim_ascii();
        let mut info: ConnectionInfo = spec
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| format!("state.redis.url: {e}"))?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &spec.username {
            settings = settings.set_username(user);
        }
        if let Some(path) = &spec.password_file {
            let password = std::fs::read_to_string(path)
                .map_err(|e| format!("state.redis.password_file: {e}"))?;
            settings = settings.set_password(password.trim_end_matches(['\r', '\n']));
        }
        info = info.set_redis_settings(settings);
        let client = match &spec.ca_file {
            Some(path) => {
                let root = std::fs::read(path).map_err(|e| format!("state.redis.ca_file: {e}"))?;
                Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root),
                    },
                )
            }
            None => Client::open(info),
        }
        .map_err(|e| format!("state.redis: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(spec.timeout.max(Duration::from_millis(100))))
            .set_response_timeout(Some(spec.timeout))
            // No retry inside a call: the breaker's probe is the reconnect attempt,
            // and the real error (e.g. a wrong password) surfaces at once.
            .set_number_of_retries(0)
            .set_max_delay(spec.breaker_interval);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("state.redis: {e}"))?;
        Ok(Arc::new(Self {
            client,
            connection,
            timeout: spec.timeout,
            breaker: Breaker::new(u64::try_from(spec.breaker_interval.as_millis()).unwrap_or(1000)),
            prefix: spec.key_prefix.clone(),
            spec: spec.clone(),
            key_hasher: SharedKeyHasher::new(secret, "portcullis rate_limit v1"),
            counters: RedisCounters::default(),
            events,
        }))
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// True while the breaker is open (Redis considered down).
    pub fn is_down(&self) -> bool {
        self.breaker.is_open()
    }

    pub fn breaker_openings(&self) -> u64 {
        self.breaker.opened.load(Ordering::Relaxed)
    }

    /// Runs one call under the breaker and the deadline.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.breaker.admit() == Admit::Refuse {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Open);
        }
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::time::timeout(self.timeout, f(self.connection.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.is_timeout() => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Timeout)
            }
            Ok(Err(e)) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Backend(e.to_string()))
            }
            Err(_) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Timeout)
            }
        };
        let switch = match &result {
            Ok(_) => self.breaker.success(),
            Err(_) => self.breaker.failure(),
        };
        if let Some(switch) = switch {
            self.report(switch, result.as_ref().err());
        }
        result
    }

    fn report(&self, switch: Switch, error: Option<&StoreError>) {
        match switch {
            Switch::Opened => {
                let error = error.map(ToString::to_string).unwrap_or_default();
                tracing::warn!(url = %self.spec.url, %error, "shared store unavailable; policies apply their failure mode");
                self.events.store_switch(true, &error);
            }
            Switch::Closed => {
                tracing::info!(url = %self.spec.url, "shared store available again");
                self.events.store_switch(false, "");
            }
        }
    }

    /// A key under the configured prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }
}

/// Opens the shared stores: Redis when `state.redis` names one (else
/// memory only) and the threat-feed registry; registers their metrics.
pub fn open_shared(
    spec: &crate::config::spec_redis::StateSpec,
    events: &SecurityEvents,
    registry: &mut prometheus_client::registry::Registry,
) -> Result<crate::state::SharedState, String> {
    let feeds = Arc::new(crate::feeds::FeedRegistry::live());
    registry.register_collector(Box::new(crate::feeds::metrics::FeedCollector(Arc::clone(
        &feeds,
    ))));
    let redis = match &spec.redis {
        Some(redis) => {
            let store = RedisStore::open(redis, events.clone())?;
            registry.register_collector(Box::new(metrics::RedisCollector(Arc::clone(&store))));
            Some(store)
        }
        None => None,
    };
    Ok(crate::state::SharedState { redis, feeds })
}

/// Starts mirroring the deny list through Redis when configured.
pub fn start_ban_sync(
    spec: &crate::config::spec_redis::StateSpec,
    telemetry: &crate::observe::telemetry::Telemetry,
) {
    let share = spec.redis.as_ref().is_some_and(|r| r.share_deny_list);
    if let (true, Some(store)) = (share, &telemetry.shared.redis) {
        tokio::spawn(ban_sync::run(
            Arc::clone(store),
            Arc::clone(&telemetry.deny_list),
        ));
    }
}
