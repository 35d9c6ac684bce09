//! Shared-defence state behind small store interfaces: rate-limit state
//! ([`rate`]), bans ([`bans`]), sessions ([`sessions`]) and detection
//! counters ([`counters`]). Each has the bounded in-memory implementation
//! (the embedded default) and a Redis one ([`redis`]) shared by replicas.
//!
//! The request path never calls through `dyn`: a policy holds an enum over
//! the implementations, so the memory arm stays a direct, inlined call.
pub mod bans;
pub mod bounded;
pub mod counters;
pub mod key_hash;
pub mod rate;
pub mod redis;
pub mod sessions;

/// Why a store could not answer (the caller applies its failure mode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The call did not finish within its deadline.
    #[error("store call timed out")]
    Timeout,
    /// The circuit breaker is open after recent failures: not even tried.
    #[error("store unavailable (circuit open)")]
    Open,
    /// The store answered with an error, or the connection failed.
    #[error("store error: {0}")]
    Backend(String),
}

/// The process's shared stores, opened once at startup (a reload that
/// changes `state.redis` takes effect on restart, like the log sinks).
#[derive(Debug, Clone, Default)]
pub struct SharedState {
    pub redis: Option<std::sync::Arc<redis::RedisStore>>,
    /// Threat feeds, loaded once per spec and kept across reloads.
    pub feeds: std::sync::Arc<crate::feeds::FeedRegistry>,
}
