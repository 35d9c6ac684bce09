//! TLS test helpers: a throwaway PKI made with rcgen (files in a temp dir),
//! a rustls client that reports what it negotiated, and a TLS upstream.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{Reply, collect};

/// A certificate authority that issues leaves into `dir`.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    pub path: PathBuf,
}

/// Paths of an issued certificate (chain: leaf then CA) and its key.
#[derive(Clone)]
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let cert = params.self_signed(&key).expect("ca cert");
        let pem = cert.pem();
        let path = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&path, &pem).expect("write ca");
        Ca {
            issuer: Issuer::new(params, key),
            pem,
            path,
        }
    }

    /// Issues an ECDSA leaf for `names` (DNS names or IPs) as `file`.
    pub fn leaf(&self, dir: &Path, file: &str, names: &[&str]) -> Leaf {
        self.leaf_with(dir, file, names, KeyPair::generate().expect("key"))
    }

    pub fn leaf_with(&self, dir: &Path, file: &str, names: &[&str], key: KeyPair) -> Leaf {
        self.leaf_full(dir, file, names, key, None)
    }

    /// A leaf with a chosen serial number (to revoke it in a CRL).
    pub fn leaf_serial(&self, dir: &Path, file: &str, names: &[&str], serial: u64) -> Leaf {
        let key = KeyPair::generate().expect("key");
        self.leaf_full(dir, file, names, key, Some(serial))
    }

    fn leaf_full(
        &self,
        dir: &Path,
        file: &str,
        names: &[&str],
        key: KeyPair,
        serial: Option<u64>,
    ) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.serial_number = serial.map(rcgen::SerialNumber::from);
        let cn = names.first().cloned().unwrap_or_else(|| file.to_owned());
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        let cert_pem = cert.pem();
        let cert_path = dir.join(format!("{file}.crt"));
        let key_path = dir.join(format!("{file}.key"));
        std::fs::write(&cert_path, format!("{cert_pem}{}", self.pem)).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Leaf {
            cert: cert_path,
            key: key_path,
            cert_pem,
        }
    }
}

impl Ca {
    /// Writes a CRL revoking `serials` to `dir/<file>.crl.pem`.
    pub fn crl(&self, dir: &Path, file: &str, serials: &[u64]) -> PathBuf {
        let now = rcgen::date_time_ymd(2026, 1, 1);
        let params = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(*s),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).expect("sign crl");
        let path = dir.join(format!("{file}.crl.pem"));
        std::fs::write(&path, crl.pem().expect("crl pem")).expect("write crl");
        path
    }
}

/// How a test client connects.
#[derive(Clone, Default)]
pub struct ClientOpts {
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    pub tls12_only: bool,
    pub client_cert: Option<Leaf>,
}

/// What the handshake settled.
pub struct Session {
    pub stream: tokio_rustls::client::TlsStream<TcpStream>,
    pub alpn: Option<Vec<u8>>,
    /// The server's leaf certificate, PEM-free DER.
    pub server_cert: Vec<u8>,
    pub version: Option<rustls::ProtocolVersion>,
}

pub fn client_config(ca_pem: &str, opts: &ClientOpts) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match &opts.client_cert {
        Some(leaf) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(&leaf.cert)
                .expect("read chain")
                .map(|c| c.expect("cert"))
                .collect();
            let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.clone();
    config.enable_sni = opts.sni.is_some();
    config
}

/// Connects and completes a handshake; `Err` carries the failure.
pub async fn connect(addr: SocketAddr, ca_pem: &str, opts: &ClientOpts) -> Result<Session, String> {
    let config = client_config(ca_pem, opts);
    connect_with(addr, Arc::new(config), opts.sni.as_deref()).await
}

pub async fn connect_with(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    sni: Option<&str>,
) -> Result<Session, String> {
    // Without SNI the verified name must still be something; the
    // certificates here are checked against it only when SNI is sent.
    let name = ServerName::try_from(sni.unwrap_or("default.test").to_owned())
        .map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let stream = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, conn) = stream.get_ref();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let version = conn.protocol_version();
    let server_cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default();
    Ok(Session {
        stream,
        alpn,
        server_cert,
        version,
    })
}

/// Sends one HTTP/1.1 request over an established session.
pub async fn send_h1(session: Session, req: Request<Full<Bytes>>) -> Result<Reply, String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(session.stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(collect(resp).await)
}

/// One HTTPS GET on a fresh connection.
pub async fn get(
    addr: SocketAddr,
    ca_pem: &str,
    opts: &ClientOpts,
    host: &str,
    path: &str,
) -> Result<Reply, String> {
    let session = connect(addr, ca_pem, opts).await?;
    let req = Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    send_h1(session, req).await
}

/// A TLS upstream answering 200 with the request's headers echoed as
/// `x-seen-<name>`. `client_ca` makes it require a client certificate.
pub async fn tls_upstream(leaf: &Leaf, client_ca: Option<&Path>) -> SocketAddr {
    let chain: Vec<_> = CertificateDer::pem_file_iter(&leaf.cert)
        .expect("chain")
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).expect("ca") {
                roots.add(c.expect("ca cert")).expect("root");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let mut resp =
                            hyper::Response::new(Full::new(Bytes::from_static(b"tls upstream")));
                        for (name, value) in req.headers() {
                            if let Ok(n) =
                                http::HeaderName::from_bytes(format!("x-seen-{name}").as_bytes())
                            {
                                resp.headers_mut().append(n, value.clone());
                            }
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}
