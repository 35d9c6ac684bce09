//! The `basic` policy's configuration (pure data; compiled in
//! `policy::authn::basic`).

use serde::{Deserialize, Serialize};

/// HTTP Basic authentication against an htpasswd file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicSpec {
    /// `user:hash` lines: bcrypt (`$2y$`), argon2id (`$argon2id$`); legacy
    /// `{SHA}` and `$apr1$` are accepted with a `validate` warning. The file
    /// is reread when it changes.
    pub htpasswd_file: String,
    /// The realm named in the `WWW-Authenticate` challenge.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Remove the `Authorization` header before forwarding.
    #[serde(default = "default_true")]
    pub strip_credentials: bool,
    /// Upstream header that receives the user name.
    #[serde(default)]
    pub user_header: Option<String>,
}

fn default_realm() -> String {
    "portcullis".to_owned()
}

fn default_true() -> bool {
    true
}
