//! TLS everywhere: termination on listeners (SNI, ALPN, mTLS, tickets),
//! certificate hot reload, client identities, and TLS to backends.
//!
//! The listener runs the handshake right after the PROXY header and before
//! the framing guard, so every later stage sees plaintext HTTP.

pub mod certs;
pub mod client;
pub mod identity;
pub mod reload;
pub mod server;
pub mod spec;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderValue;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::identity::TlsFacts;
use crate::tls::server::CertStore;
use crate::tls::spec::{ClientAuthMode, HstsSpec, ListenerTlsSpec};

/// A listener's compiled TLS side.
pub struct ListenerTls {
    acceptor: TlsAcceptor,
    pub store: Arc<ArcSwap<CertStore>>,
    pub handshake_timeout: Duration,
    /// Preformatted `Strict-Transport-Security` value.
    pub hsts: Option<HeaderValue>,
    /// Whether client certificates are requested at all: when they are,
    /// `X-Forwarded-Client-Cert` from clients is always removed.
    pub client_auth: bool,
    pub forward_client_cert: bool,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl ListenerTls {
    /// Loads the certificates and builds the rustls configuration. Does not
    /// start the file watcher (see [`ListenerTls::watch`]).
    pub fn compile(spec: &ListenerTlsSpec) -> Result<Self, Vec<String>> {
        let store = Arc::new(ArcSwap::from_pointee(server::load_store(spec)?));
        let config = server::server_config(spec, Arc::clone(&store)).map_err(|e| vec![e])?;
        let auth = spec
            .client_auth
            .as_ref()
            .filter(|a| a.mode != ClientAuthMode::Off);
        Ok(ListenerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            store,
            handshake_timeout: spec.handshake_timeout,
            hsts: spec.hsts.as_ref().and_then(hsts_value),
            client_auth: auth.is_some(),
            forward_client_cert: auth.is_some_and(|a| a.forward_header),
        })
    }

    /// Starts hot reload for this listener's files and reports certificates
    /// near expiry.
    pub fn watch(&self, listener: &str, spec: &ListenerTlsSpec) {
        reload::warn_expiring(listener, &self.store.load());
        reload::watch(listener, spec, &self.store);
    }

    /// Runs the handshake within the listener's deadline.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<(TlsStream<TcpStream>, TlsFacts), String> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let facts = TlsFacts::from_connection(tls.get_ref().1);
                Ok((tls, facts))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("handshake timed out".to_owned()),
        }
    }

    /// Seconds since the epoch at which each certificate expires, by file:
    /// the value the metrics exporter publishes.
    pub fn expiries(&self) -> Vec<(String, i64)> {
        self.store
            .load()
            .certs
            .iter()
            .map(|c| (c.source.clone(), c.not_after))
            .collect()
    }
}

fn hsts_value(spec: &HstsSpec) -> Option<HeaderValue> {
    let mut value = format!("max-age={}", spec.max_age.as_secs());
    if spec.include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if spec.preload {
        value.push_str("; preload");
    }
    HeaderValue::from_str(&value).ok()
}
