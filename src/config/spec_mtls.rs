//! The `mtls` policy's configuration (pure data; compiled in
//! `policy::authn::mtls`).

use serde::{Deserialize, Serialize};

/// The verified client certificate as the principal.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsSpec {
    /// A request without a verified client certificate passes as anonymous
    /// (for listeners with `client_auth.mode: optional`).
    #[serde(default)]
    pub optional: bool,
}
