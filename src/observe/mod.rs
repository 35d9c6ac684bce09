//! Stage 7: what the gateway saw and did, written off the request path.
pub mod access_log;
