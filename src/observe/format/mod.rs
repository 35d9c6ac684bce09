//! Access-log formats other than the native JSON (which lives beside the
//! record in `access_log.rs`): Elastic Common Schema and combined.
pub mod combined;
pub mod ecs;
pub mod refusal;
