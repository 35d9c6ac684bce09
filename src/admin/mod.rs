//! The admin listener: health and readiness (later metrics and the admin API).
pub mod server;
