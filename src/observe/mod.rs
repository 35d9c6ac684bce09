//! Stage 7: what the gateway saw and did, written off the request path.
pub mod access_log;
pub mod collect;
pub mod events;
pub mod metrics;
pub mod telemetry;
