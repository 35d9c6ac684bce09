//! Loading PEM certificate chains and keys into rustls types, with the
//! checks a bad file must fail (unparsable, key mismatch, expired) and the
//! facts the gateway reports about each certificate (names, expiry).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::tls::spec::CertificateSpec;

/// The crypto provider every TLS config of the gateway uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A loaded certificate with what SNI selection and monitoring need.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    /// DNS names from the leaf's SANs (lower-case, `*.` wildcards kept).
    pub names: Vec<String>,
    /// Seconds since the Unix epoch at which the leaf expires.
    pub not_after: i64,
    pub subject: String,
    /// The file it came from, for logs.
    pub source: String,
}

/// Reads every certificate in a PEM file.
pub fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot parse certificates in {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path} holds no PEM certificate"));
    }
    Ok(certs)
}

/// Reads CRLs from PEM files.
pub fn read_crls(paths: &[String]) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let mut crls = Vec::new();
    for path in paths {
        let iter = CertificateRevocationListDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CRLs from {path}: {e}"))?;
        for crl in iter {
            crls.push(crl.map_err(|e| format!("cannot parse CRL in {path}: {e}"))?);
        }
    }
    Ok(crls)
}

/// A root store from a PEM CA bundle.
pub fn read_roots(path: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{path}: unusable CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// Loads a chain and key, refusing a key that does not match the leaf or a
/// leaf that has expired: serving either would fail every handshake.
pub fn load(spec: &CertificateSpec) -> Result<LoadedCert, String> {
    let chain = read_certs(&spec.cert)?;
    let key = PrivateKeyDer::from_pem_file(&spec.key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", spec.key))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("{}: unsupported private key: {e}", spec.key))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| {
        format!(
            "the key in {} does not match the certificate in {}",
            spec.key, spec.cert
        )
    })?;
    let leaf = certified
        .end_entity_cert()
        .map_err(|e| format!("{}: {e}", spec.cert))?;
    let facts = leaf_facts(leaf.as_ref()).map_err(|e| format!("{}: {e}", spec.cert))?;
    if facts.not_after < now_secs() {
        return Err(format!("the certificate in {} has expired", spec.cert));
    }
    Ok(LoadedCert {
        key: Arc::new(certified),
        names: facts.names,
        not_after: facts.not_after,
        subject: facts.subject,
        source: spec.cert.clone(),
    })
}

/// What the gateway reads from a certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafFacts {
    pub subject: String,
    pub names: Vec<String>,
    /// Other SANs (URIs, IPs, e-mail), as `TYPE:value`, for identities.
    pub other_sans: Vec<String>,
    pub not_after: i64,
}

/// Subject, SANs and expiry of a DER certificate.
pub fn leaf_facts(der: &[u8]) -> Result<LeafFacts, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("unparsable certificate: {e}"))?;
    let mut names = Vec::new();
    let mut other_sans = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push(n.to_ascii_lowercase()),
                GeneralName::URI(u) => other_sans.push(format!("URI:{u}")),
                GeneralName::RFC822Name(m) => other_sans.push(format!("email:{m}")),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        other_sans.push(format!("IP:{ip}"));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(LeafFacts {
        subject: cert.subject().to_string(),
        names,
        other_sans,
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// True when certificate name `pattern` (exact or `*.suffix`) covers `host`.
/// A wildcard covers exactly one label, as RFC 6125 §6.4.3 allows.
pub fn name_covers(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
            None => false,
        };
    }
    pattern.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::name_covers;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("api.example.com", "API.example.com"));
        assert!(!name_covers("api.example.com", "www.example.com"));
    }
}
