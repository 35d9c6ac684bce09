//! Request-path normalisation, before routing and policies. Filled by H2.

use std::borrow::Cow;

use crate::config::spec::EncodedSlash;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must start with '/'")]
    NotAbsolute,
    #[error("invalid percent-encoding")]
    BadEncoding,
    #[error("encoded '/' or '\\' in path")]
    EncodedSlash,
    #[error("path escapes the root")]
    AboveRoot,
}

/// Normalises the path part of a request target (no query): dot-segment
/// removal (RFC 3986 §5.2.4), percent-decoding of unreserved characters,
/// upper-case hex in the remaining escapes, repeated slashes merged, and
/// `%2F`/`%5C` handled per `encoded_slash`. Returns borrowed input when it
/// is already normal (the common case: no allocation).
pub fn normalize_path(path: &str, encoded_slash: EncodedSlash) -> Result<Cow<'_, str>, PathError> {
    let _ = encoded_slash;
    todo!("H2 {path}")
}
