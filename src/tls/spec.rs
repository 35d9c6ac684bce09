//! The TLS parts of the configuration model (serde types): listener
//! termination, client certificates, HSTS, redirects and backend TLS.
//!
//! Paths are read relative to the gateway's working directory.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

/// TLS termination on a listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTlsSpec {
    /// Certificates offered by SNI; the names are read from each
    /// certificate's SANs. The first is the default certificate.
    pub certificates: Vec<CertificateSpec>,
    /// What to do when the client sends no SNI or a name no certificate covers.
    #[serde(default)]
    pub unknown_sni: UnknownSni,
    #[serde(default)]
    pub min_version: TlsVersion,
    /// Deadline for the TLS handshake, from the end of the PROXY header.
    #[serde(default = "default_handshake_timeout", with = "duration")]
    pub handshake_timeout: Duration,
    /// Stateless session resumption with rotated ticket keys.
    #[serde(default = "default_true")]
    pub session_tickets: bool,
    /// Client certificates (mTLS).
    #[serde(default)]
    pub client_auth: Option<ClientAuthSpec>,
    /// Strict-Transport-Security on every response of this listener.
    #[serde(default)]
    pub hsts: Option<HstsSpec>,
}

fn default_true() -> bool {
    true
}

fn default_handshake_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A certificate chain (leaf first) and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSni {
    /// Serve the first certificate.
    #[default]
    Default,
    /// Fail the handshake (`unrecognized_name`).
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// Client certificate verification on a listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthSpec {
    pub mode: ClientAuthMode,
    /// PEM bundle of the CAs that issue client certificates.
    pub ca: String,
    /// PEM certificate revocation lists, checked against the whole chain.
    #[serde(default)]
    pub crls: Vec<String>,
    /// Send the verified identity upstream in `X-Forwarded-Client-Cert`
    /// (any client-sent copy is always removed).
    #[serde(default)]
    pub forward_header: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMode {
    Off,
    /// A certificate is asked for and verified when given.
    Optional,
    /// A verified certificate is needed to complete the handshake.
    Required,
}

/// `Strict-Transport-Security` parameters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HstsSpec {
    #[serde(default = "default_hsts_age", with = "duration")]
    pub max_age: Duration,
    #[serde(default)]
    pub include_subdomains: bool,
    #[serde(default)]
    pub preload: bool,
}

fn default_hsts_age() -> Duration {
    Duration::from_secs(365 * 24 * 3600)
}

/// Redirect every request on a plain listener to HTTPS.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsRedirectSpec {
    /// The HTTPS port in the `Location`; 443 (omitted) by default.
    #[serde(default = "default_https_port")]
    pub port: u16,
}

fn default_https_port() -> u16 {
    443
}

/// TLS from the gateway to a backend's endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendTlsSpec {
    /// PEM bundle of trusted CAs; the bundled Mozilla roots when absent.
    #[serde(default)]
    pub ca: Option<String>,
    /// The name sent as SNI and verified in the certificate; the endpoint's
    /// IP address when absent.
    #[serde(default)]
    pub server_name: Option<String>,
    /// A client certificate for mTLS to the backend.
    #[serde(default)]
    pub client_certificate: Option<CertificateSpec>,
    /// Accept any server certificate. `validate` warns: this is encryption
    /// without authentication.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}
