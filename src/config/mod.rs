//! Configuration: the provider-neutral model, its loading and validation,
//! and its compilation into an immutable runtime snapshot.
pub mod compile;
pub mod error;
pub mod load;
pub mod spec;
pub mod spec_authz;
pub mod spec_conn_limit;
pub mod spec_inflight;
pub mod spec_introspection;
pub mod spec_jwt;
pub mod spec_logging;
pub mod spec_oidc;
pub mod spec_rate_limit;
pub mod validate;
pub mod validate_auth;
pub mod validate_conn_limit;
pub mod validate_logging;
pub mod validate_match;
pub mod validate_rate_limit;
pub mod yaml;
mod yaml_builder;
mod yaml_scalar;
