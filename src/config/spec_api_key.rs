//! The `api_key` policy's configuration (pure data; compiled in
//! `policy::authn::api_key`). Keys are stored only as SHA-256 hashes.

use serde::{Deserialize, Serialize};

use crate::config::spec_jwt::TokenSourceSpec;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySpec {
    /// Where the key is read from, in order (default: the `x-api-key` header).
    #[serde(default = "default_sources")]
    pub from: Vec<TokenSourceSpec>,
    /// Keys inline.
    #[serde(default)]
    pub keys: Vec<ApiKeyEntrySpec>,
    /// A YAML or JSON file holding a list of the same entries (reread on
    /// reload).
    #[serde(default)]
    pub keys_file: Option<String>,
    /// Remove the key header before the request goes upstream.
    #[serde(default = "default_true")]
    pub strip_key: bool,
    /// Upstream header that receives the client id.
    #[serde(default)]
    pub client_id_header: Option<String>,
}

/// One client's key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntrySpec {
    pub client_id: String,
    /// `sha256:<64 hex digits>` of the key (`printf %s "$KEY" | sha256sum`).
    pub hash: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_sources() -> Vec<TokenSourceSpec> {
    vec![TokenSourceSpec::Header("x-api-key".to_owned())]
}

fn default_true() -> bool {
    true
}
