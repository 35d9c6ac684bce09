//! The admin listener: health, readiness, Prometheus metrics and the JSON
//! admin API (see `docs/admin-api.md`).
pub mod api;
pub mod auth;
pub mod identity;
pub mod redact;
pub mod server;
