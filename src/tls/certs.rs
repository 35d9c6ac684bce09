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

/// A certificate, key, CA or CRL setting is either a file path or the PEM
/// text itself (Kubernetes Secrets arrive as bytes, not files). A value
/// that starts with `-----BEGIN` is PEM text: no sane path does.
pub fn is_inline_pem(value: &str) -> bool {
    value.trim_start().starts_with("-----BEGIN")
}

/// How a PEM setting is named in messages: the path, or `inline PEM`.
pub fn pem_label(value: &str) -> &str {
    if is_inline_pem(value) {
        "inline PEM"
    } else {
        value
    }
}

/// Reads every PEM object of type `T` from a path or inline PEM text.
fn read_pem<T: PemObject>(value: &str, what: &str) -> Result<Vec<T>, String> {
    let label = pem_label(value);
    let items: Result<Vec<T>, _> = if is_inline_pem(value) {
        T::pem_slice_iter(value.as_bytes()).collect()
    } else {
        T::pem_file_iter(value)
            .map_err(|e| format!("cannot read {what} from {label}: {e}"))?
            .collect()
    };
    items.map_err(|e| format!("cannot parse {what} in {label}: {e}"))
}

/// Reads every certificate in a PEM file or inline PEM text.
pub fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = read_pem(path, "certificates")?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", pem_label(path)));
    }
    Ok(certs)
}

/// Reads a private key from a PEM file or inline PEM text.
pub fn read_key(value: &str) -> Result<PrivateKeyDer<'static>, String> {
    let label = pem_label(value);
    let key = if is_inline_pem(value) {
        PrivateKeyDer::from_pem_slice(value.as_bytes())
    } else {
        PrivateKeyDer::from_pem_file(value)
    };
    key.map_err(|e| format!("cannot read a private key from {label}: {e}"))
}

/// Reads CRLs from PEM files or inline PEM texts.
pub fn read_crls(paths: &[String]) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let mut crls = Vec::new();
    for path in paths {
        crls.extend(read_pem::<CertificateRevocationListDer<'static>>(
            path, "CRLs",
        )?);
    }
    Ok(crls)
}

/// A root store from a PEM CA bundle.
pub fn read_roots(path: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: unusable CA certificate: {e}", pem_label(path)))?;
    }
    Ok(roots)
}

/// Loads a chain and key, refusing a key that does not match the leaf or a
/// leaf that has expired: serving either would fail every handshake.
pub fn load(spec: &CertificateSpec) -> Result<LoadedCert, String> {
    let (cert_label, key_label) = (pem_label(&spec.cert), pem_label(&spec.key));
    let chain = read_certs(&spec.cert)?;
    let key = read_key(&spec.key)?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("{key_label}: unsupported private key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| {
        format!("the key in {key_label} does not match the certificate in {cert_label}")
    })?;
    let leaf = certified
        .end_entity_cert()
        .map_err(|e| format!("{cert_label}: {e}"))?;
    let facts = leaf_facts(leaf.as_ref()).map_err(|e| format!("{cert_label}: {e}"))?;
    if facts.not_after < now_secs() {
        return Err(format!("the certificate in {cert_label} has expired"));
    }
    // A metric label and log field: never the whole inline PEM text.
    let source = if is_inline_pem(&spec.cert) {
        format!("inline:{}", facts.names.first().unwrap_or(&facts.subject))
    } else {
        spec.cert.clone()
    };
    Ok(LoadedCert {
        key: Arc::new(certified),
        names: facts.names,
        not_after: facts.not_after,
        subject: facts.subject,
        source,
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
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    #[test]
    fn certificates_and_keys_load_from_inline_pem() {
        let (cert, key) = self_signed("inline.example");
        let loaded = load(&CertificateSpec { cert, key }).unwrap();
        assert_eq!(loaded.names, vec!["inline.example".to_owned()]);
        // Labels never carry the PEM text itself.
        assert_eq!(loaded.source, "inline:inline.example");
    }

    #[test]
    fn an_inline_key_of_another_certificate_is_refused() {
        let (cert, _) = self_signed("a.example");
        let (_, other_key) = self_signed("b.example");
        let e = load(&CertificateSpec {
            cert,
            key: other_key,
        })
        .err()
        .unwrap();
        assert_eq!(
            e,
            "the key in inline PEM does not match the certificate in inline PEM"
        );
    }

    #[test]
    fn broken_inline_pem_is_an_error_not_a_path() {
        let e = read_certs("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(
            e.starts_with("cannot parse certificates in inline PEM"),
            "{e}"
        );
        let e = read_key("-----BEGIN PRIVATE KEY-----\n").unwrap_err();
        assert!(
            e.starts_with("cannot read a private key from inline PEM"),
            "{e}"
        );
        assert!(
            read_certs("/nonexistent.pem")
                .unwrap_err()
                .contains("/nonexistent.pem")
        );
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("api.example.com", "API.example.com"));
        assert!(!name_covers("api.example.com", "www.example.com"));
    }
}
