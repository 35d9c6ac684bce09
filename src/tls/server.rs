//! TLS termination for a listener: the SNI certificate resolver and the
//! rustls server configuration (versions, ALPN, tickets, client auth).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::tls::certs::{self, LoadedCert};
use crate::tls::spec::{ClientAuthMode, ListenerTlsSpec, TlsVersion, UnknownSni};

/// The certificates of one listener, indexed for SNI.
#[derive(Debug, Default)]
pub struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    pub certs: Vec<LoadedCert>,
}

impl CertStore {
    /// Indexes `certs`; on a name claimed twice the first certificate wins,
    /// the same order in which they are configured.
    pub fn new(certs: Vec<LoadedCert>, unknown: UnknownSni) -> Self {
        let mut store = CertStore::default();
        for cert in &certs {
            for name in &cert.names {
                let table = match name.strip_prefix("*.") {
                    Some(suffix) => (&mut store.wildcard, suffix),
                    None => (&mut store.exact, name.as_str()),
                };
                table
                    .0
                    .entry(table.1.to_owned())
                    .or_insert_with(|| Arc::clone(&cert.key));
            }
        }
        if unknown == UnknownSni::Default {
            store.default = certs.first().map(|c| Arc::clone(&c.key));
        }
        store.certs = certs;
        store
    }

    /// Exact name first, then the wildcard one label up, then the default.
    pub fn select(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = sni {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(key) = self.exact.get(&name) {
                return Some(Arc::clone(key));
            }
            if let Some((_, parent)) = name.split_once('.')
                && let Some(key) = self.wildcard.get(parent)
            {
                return Some(Arc::clone(key));
            }
        }
        self.default.clone()
    }
}

/// Picks the certificate by SNI from a store the reloader can swap.
#[derive(Debug)]
pub struct SniResolver {
    pub store: Arc<ArcSwap<CertStore>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // `None` makes rustls fail the handshake: the `refuse` policy.
        self.store.load().select(hello.server_name())
    }
}

/// Loads every certificate of `spec`; all errors are collected.
pub fn load_store(spec: &ListenerTlsSpec) -> Result<CertStore, Vec<String>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for cert in &spec.certificates {
        match certs::load(cert) {
            Ok(c) => loaded.push(c),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CertStore::new(loaded, spec.unknown_sni))
}

/// Builds the rustls configuration of a listener around a swappable store.
pub fn server_config(
    spec: &ListenerTlsSpec,
    store: Arc<ArcSwap<CertStore>>,
) -> Result<ServerConfig, String> {
    let provider = certs::provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match spec.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match &spec.client_auth {
        Some(auth) if auth.mode != ClientAuthMode::Off => {
            let roots = certs::read_roots(&auth.ca)?;
            let crls = certs::read_crls(&auth.crls)?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .with_crls(crls);
            let verifier = match auth.mode {
                ClientAuthMode::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier.build().map_err(|e| format!("client_auth: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { store }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if spec.session_tickets {
        // Ticket keys rotate every few hours; a stolen key opens only the
        // sessions of its own window.
        config.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| format!("session tickets: {e}"))?;
    } else {
        config.send_tls13_tickets = 0;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::certs::LoadedCert;

    fn cert(names: &[&str], key: &Arc<CertifiedKey>) -> LoadedCert {
        LoadedCert {
            key: Arc::clone(key),
            names: names.iter().map(|n| n.to_string()).collect(),
            not_after: 0,
            subject: String::new(),
            source: String::new(),
        }
    }

    fn key(marker: u8) -> Arc<CertifiedKey> {
        let provider = rustls::crypto::ring::default_provider();
        // Any signing key will do: selection compares the chains only.
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &ring::rand::SystemRandom::new(),
        );
        let Ok(pkcs8) = pkcs8 else {
            panic!("key generation failed")
        };
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
        let Ok(signing) = provider.key_provider.load_private_key(der.into()) else {
            panic!("key load failed")
        };
        let chain = vec![rustls_pki_types::CertificateDer::from(vec![marker])];
        Arc::new(CertifiedKey::new(chain, signing))
    }

    #[test]
    fn exact_then_wildcard_then_default_or_none() {
        let (a, b) = (key(1), key(2));
        let certs = vec![cert(&["a.test"], &a), cert(&["*.b.test", "a.test"], &b)];
        let store = CertStore::new(certs.clone(), UnknownSni::Default);
        let pick = |sni: Option<&str>| store.select(sni).map(|k| k.cert[0].as_ref()[0]);
        assert_eq!(pick(Some("a.test")), Some(1), "first claim wins");
        assert_eq!(pick(Some("X.B.test.")), Some(2));
        assert_eq!(pick(Some("x.y.b.test")), Some(1), "one label only");
        assert_eq!(pick(None), Some(1));
        let strict = CertStore::new(certs, UnknownSni::Refuse);
        assert!(strict.select(Some("nope.test")).is_none());
        assert!(strict.select(None).is_none());
    }
}
