//! HTTPS listeners end to end: SNI selection (exact, wildcard, default,
//! refuse), ALPN h2 vs http/1.1, minimum TLS version, X-Forwarded-Proto,
//! HSTS, the HTTP→HTTPS redirect and TLS facts in the access log.

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::tls::{Ca, ClientOpts, Leaf};
use common::*;
use http::Request;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn config(upstream: &str, first: &Leaf, second: &Leaf, unknown: &str, min: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates:
        - {{ cert: "{}", key: "{}" }}
        - {{ cert: "{}", key: "{}" }}
      unknown_sni: {unknown}
      min_version: "{min}"
      hsts: {{ max_age: 1d, include_subdomains: true }}
  - name: plain
    address: 127.0.0.1:0
    https_redirect: {{ port: 8443 }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: app
    backend: app
"#,
        p(&first.cert),
        p(&first.key),
        p(&second.cert),
        p(&second.key),
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    ca: Ca,
    default: Leaf,
    wildcard: Leaf,
    gw: Gateway,
    up: Upstream,
}

async fn setup(unknown: &str, min: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let default = ca.leaf(dir.path(), "default", &["default.test"]);
    let wildcard = ca.leaf(dir.path(), "wild", &["*.example.test", "api.other.test"]);
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(
        &up.addr.to_string(),
        &default,
        &wildcard,
        unknown,
        min,
    ));
    Setup {
        _dir: dir,
        ca,
        default,
        wildcard,
        gw,
        up,
    }
}

fn sni(name: &str) -> ClientOpts {
    ClientOpts {
        sni: Some(name.to_owned()),
        ..ClientOpts::default()
    }
}

fn leaf_der(leaf: &Leaf) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes())
        .expect("pem")
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn sni_selects_exact_wildcard_and_default() {
    let s = setup("default", "1.2").await;
    let addr = s.gw.addr("https");
    for (name, want) in [
        ("api.other.test", &s.wildcard),
        ("a.example.test", &s.wildcard),
        ("default.test", &s.default),
    ] {
        let session = tls::connect(addr, &s.ca.pem, &sni(name)).await;
        let session = session.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(session.server_cert, leaf_der(want), "{name}");
    }
    // No SNI: the default (first) certificate. The client verifies it for
    // `default.test`, so success proves which certificate was served.
    let session = tls::connect(addr, &s.ca.pem, &ClientOpts::default()).await;
    let session = session.expect("no-SNI handshake");
    assert_eq!(session.server_cert, leaf_der(&s.default));
    // A wildcard covers one label only: a.b.example.test gets the default.
    let config = tls::client_config(&s.ca.pem, &ClientOpts::default());
    let mut config = config;
    config.enable_sni = true;
    let deep = tls::connect_with(addr, Arc::new(config), Some("a.b.example.test")).await;
    assert!(
        deep.is_err(),
        "default cert must not verify for a.b.example.test"
    );
}

#[tokio::test]
async fn unknown_sni_refused_when_configured() {
    let s = setup("refuse", "1.2").await;
    let addr = s.gw.addr("https");
    assert!(
        tls::connect(addr, &s.ca.pem, &sni("a.example.test"))
            .await
            .is_ok()
    );
    let refused = tls::connect(addr, &s.ca.pem, &sni("unknown.test")).await;
    assert!(refused.is_err(), "unknown SNI must fail the handshake");
    let refused = tls::connect(addr, &s.ca.pem, &ClientOpts::default()).await;
    assert!(refused.is_err(), "no SNI must fail the handshake");
}

#[tokio::test]
async fn alpn_h2_and_http11_and_forwarded_proto() {
    let s = setup("default", "1.2").await;
    let addr = s.gw.addr("https");

    let opts = ClientOpts {
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ..sni("a.example.test")
    };
    let session = tls::connect(addr, &s.ca.pem, &opts)
        .await
        .expect("h2 handshake");
    assert_eq!(session.alpn.as_deref(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(session.stream))
            .await
            .expect("h2");
    tokio::spawn(conn);
    let req = Request::get("https://a.example.test/x")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let resp = sender.send_request(req).await.expect("h2 request");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let r = collect(resp).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["strict-transport-security"],
        "max-age=86400; includeSubDomains"
    );

    let opts = ClientOpts {
        alpn: vec![b"http/1.1".to_vec()],
        ..sni("a.example.test")
    };
    let session = tls::connect(addr, &s.ca.pem, &opts)
        .await
        .expect("h1 handshake");
    assert_eq!(session.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let req = Request::get("/y")
        .header("host", "a.example.test")
        .header("x-forwarded-proto", "http")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let r = tls::send_h1(session, req).await.expect("h1 request");
    assert_eq!(r.status, 200);

    let seen = s.up.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.headers["x-forwarded-proto"], "https");
    }

    let lines = s.gw.wait_access_lines(2);
    let v: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    assert_eq!(v["tls_version"], "TLSv1.3");
    assert_eq!(v["sni"], "a.example.test");
    assert!(
        v["tls_cipher"]
            .as_str()
            .is_some_and(|c| c.starts_with("TLS13_"))
    );
}

#[tokio::test]
async fn tls12_client_refused_when_minimum_is_13() {
    let s = setup("default", "1.3").await;
    let addr = s.gw.addr("https");
    let old = ClientOpts {
        tls12_only: true,
        ..sni("a.example.test")
    };
    assert!(tls::connect(addr, &s.ca.pem, &old).await.is_err());
    let session = tls::connect(addr, &s.ca.pem, &sni("a.example.test")).await;
    assert_eq!(
        session.expect("1.3 client").version,
        Some(rustls::ProtocolVersion::TLSv1_3)
    );

    // With the default minimum (1.2) the same client is served.
    let s = setup("default", "1.2").await;
    let session = tls::connect(s.gw.addr("https"), &s.ca.pem, &old).await;
    assert_eq!(
        session.expect("1.2 client").version,
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn plain_listener_redirects_to_https() {
    let s = setup("default", "1.2").await;
    let addr = s.gw.addr("plain");
    let r = send(
        addr,
        Request::get("/a/b?c=1")
            .header("host", "shop.example.test:8080")
            .body(Full::new(Bytes::new()))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.headers["location"],
        "https://shop.example.test:8443/a/b?c=1"
    );
    let r = send(
        addr,
        Request::post("/form")
            .header("host", "shop.example.test")
            .body(Full::new(Bytes::from_static(b"x=1")))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(r.headers["location"], "https://shop.example.test:8443/form");
    assert!(!r.headers.contains_key("strict-transport-security"));
    assert_eq!(s.up.count(), 0, "nothing is proxied in clear");
}

#[tokio::test]
async fn rsa_ecdsa_and_ed25519_certificates_by_sni() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let ecdsa = ca.leaf(dir.path(), "ecdsa", &["ecdsa.test"]);
    let ed = ca.leaf_with(
        dir.path(),
        "ed",
        &["ed.test"],
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key"),
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates:
        - {{ cert: "{}", key: "{}" }}
        - {{ cert: "{}", key: "{}" }}
        - {{ cert: "{}/rsa.crt", key: "{}/rsa.key" }}
routes:
  - name: r
    direct_response: {{ status: 200, body: "ok" }}
"#,
        p(&ecdsa.cert),
        p(&ecdsa.key),
        p(&ed.cert),
        p(&ed.key),
        p(&fixtures),
        p(&fixtures),
    );
    let gw = Gateway::start(&yaml);
    let addr = gw.addr("https");
    let rsa_pem = std::fs::read_to_string(fixtures.join("rsa-ca.pem")).expect("rsa pem");
    for (name, ca_pem) in [
        ("ecdsa.test", ca.pem.as_str()),
        ("ed.test", ca.pem.as_str()),
        ("rsa.test", rsa_pem.as_str()),
    ] {
        let r = tls::get(addr, ca_pem, &sni(name), name, "/").await;
        let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{name}");
    }
}

#[tokio::test]
async fn sessions_resume_and_silent_clients_time_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let leaf = ca.leaf(dir.path(), "a", &["a.test"]);
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: "{}", key: "{}" }}]
      handshake_timeout: 300ms
routes:
  - name: r
    direct_response: {{ status: 200 }}
"#,
        p(&leaf.cert),
        p(&leaf.key)
    );
    let mut gw = Gateway::start(&yaml);
    let addr = gw.addr("https");

    // One client config keeps its session cache across connections; TLS 1.3
    // tickets arrive after the handshake, so a request is made first.
    let config = Arc::new(tls::client_config(&ca.pem, &sni("a.test")));
    for expected in [rustls::HandshakeKind::Full, rustls::HandshakeKind::Resumed] {
        let session = tls::connect_with(addr, Arc::clone(&config), Some("a.test"))
            .await
            .expect("handshake");
        assert_eq!(session.stream.get_ref().1.handshake_kind(), Some(expected));
        let req = Request::get("/")
            .header("host", "a.test")
            .body(Full::new(Bytes::new()))
            .expect("req");
        assert_eq!(
            tls::send_h1(session, req).await.expect("request").status,
            200
        );
    }

    // A client that connects and never sends a ClientHello is cut off.
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut silent, &mut buf))
        .await
        .expect("connection must be closed by the gateway");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    let line = gw.wait_log("tls_handshake");
    assert!(line.contains("handshake timed out"), "{line}");
}

/// Certificate expiry is exported for alerting: one series per loaded
/// certificate, as a Unix timestamp in the future.
#[tokio::test]
async fn certificate_expiry_is_a_metric() {
    let s = setup("default", "1.2").await;
    let reply = get(s.gw.admin, "/metrics").await;
    assert_eq!(reply.status, 200);
    let metrics =
        common::prom::parse(&reply.body).unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
    let name = "portcullis_tls_certificate_expiry_timestamp_seconds";
    assert_eq!(metrics.types.get(name).map(String::as_str), Some("gauge"));
    let series: Vec<f64> = metrics
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains("listener=\"https\""))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(series.len(), 2, "{}", reply.body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    for not_after in series {
        assert!(not_after > now, "expiry {not_after} not in the future");
        // rcgen's default validity ends in 4096; anything past year 9999 is
        // a unit mistake (milliseconds).
        assert!(not_after < 253_402_300_800.0, "expiry {not_after}");
    }
}
