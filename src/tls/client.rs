//! TLS from the gateway to backend endpoints: the rustls client
//! configuration of one backend (trust roots, client certificate, or the
//! explicit no-verification mode) and the name each connection verifies.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use crate::tls::certs;
use crate::tls::spec::BackendTlsSpec;

/// A backend's compiled TLS client side.
#[derive(Clone)]
pub struct BackendTls {
    pub connector: TlsConnector,
    /// The configured name; endpoints are dialled by IP otherwise.
    pub server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for BackendTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl BackendTls {
    pub fn compile(spec: &BackendTlsSpec) -> Result<Self, String> {
        Self::compile_for(spec, false)
    }

    /// The client side offering `h2` alone (an HTTP/2 backend) or
    /// `http/1.1` alone: never a silent downgrade to the other.
    pub fn compile_for(spec: &BackendTlsSpec, h2: bool) -> Result<Self, String> {
        let provider = certs::provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = if spec.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let roots = match &spec.ca {
                Some(path) => certs::read_roots(path)?,
                None => rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
            };
            builder.with_root_certificates(roots)
        };
        let mut config = match &spec.client_certificate {
            Some(cert) => {
                let loaded = certs::load(cert)?;
                // `load` checked that this key matches the certificate.
                let key = certs::read_key(&cert.key)?;
                builder
                    .with_client_auth_cert(loaded.key.cert.clone(), key)
                    .map_err(|e| format!("client_certificate: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = if h2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let server_name = match &spec.server_name {
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|e| format!("server_name {name:?}: {e}"))?,
            ),
            None => None,
        };
        Ok(BackendTls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The name to verify for an endpoint: the override, else its IP.
    pub fn name_for(&self, addr: std::net::SocketAddr) -> ServerName<'static> {
        match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::IpAddress(addr.ip().into()),
        }
    }
}

/// `insecure_skip_verify`: accepts any certificate but still checks the
/// handshake signatures, so the session is at least bound to the key the
/// server presented.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
