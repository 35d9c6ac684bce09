//! Stage 7: what the gateway saw and did, written off the request path.
pub mod access_log;
pub mod collect;
pub mod events;
pub mod facts;
pub mod format;
pub mod log_queue;
pub mod metrics;
pub mod metrics_identity;
pub mod redact;
pub mod sink;
pub mod telemetry;
pub mod trace;
