//! Client certificates (required, optional, missing, wrong CA), the
//! forwarded identity header with client copies stripped, and TLS to
//! backends (verified, wrong CA → 502, mTLS to a backend that requires it).

mod common;

use std::path::Path;

use bytes::Bytes;
use common::tls::{Ca, ClientOpts, Leaf};
use common::*;
use http::Request;
use http_body_util::Full;

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn listener_config(upstream: &str, server: &Leaf, ca: &Path, mode: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: "{}", key: "{}" }}]
      client_auth: {{ mode: {mode}, ca: "{}", forward_header: true }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: app
    backend: app
"#,
        p(&server.cert),
        p(&server.key),
        p(ca),
    )
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    server: Leaf,
    client: Leaf,
    stranger: Leaf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "server");
    let server = ca.leaf(dir.path(), "gw", &["gw.test"]);
    let client_ca = Ca::new(dir.path(), "clients");
    let client = client_ca.leaf(dir.path(), "client", &["client.test"]);
    let other_ca = Ca::new(dir.path(), "other");
    let stranger = other_ca.leaf(dir.path(), "stranger", &["stranger.test"]);
    Pki {
        dir,
        ca,
        server,
        client,
        stranger,
    }
}

fn opts(cert: Option<&Leaf>) -> ClientOpts {
    ClientOpts {
        sni: Some("gw.test".into()),
        client_cert: cert.cloned(),
        ..ClientOpts::default()
    }
}

async fn spoofed_get(gw: &Gateway, pki: &Pki, cert: Option<&Leaf>) -> Result<Reply, String> {
    let session = tls::connect(gw.addr("https"), &pki.ca.pem, &opts(cert)).await?;
    let req = Request::get("/")
        .header("host", "gw.test")
        .header(
            "x-forwarded-client-cert",
            "Hash=forged;Subject=\"CN=admin\"",
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    tls::send_h1(session, req).await
}

#[tokio::test]
async fn required_client_certificate() {
    let pki = pki();
    let up = Upstream::start("u").await;
    let ca = pki.dir.path().join("clients-ca.pem");
    let gw = Gateway::start(&listener_config(
        &up.addr.to_string(),
        &pki.server,
        &ca,
        "required",
    ));

    let r = spoofed_get(&gw, &pki, Some(&pki.client))
        .await
        .expect("with cert");
    assert_eq!(r.status, 200);
    // TLS 1.3 reports a refused client certificate after the handshake, on
    // the first read; either way no request may pass.
    assert!(
        spoofed_get(&gw, &pki, None).await.is_err(),
        "no cert must fail"
    );
    assert!(
        spoofed_get(&gw, &pki, Some(&pki.stranger)).await.is_err(),
        "cert from another CA must fail"
    );
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let xfcc = seen[0].headers["x-forwarded-client-cert"]
        .to_str()
        .expect("ascii");
    assert!(xfcc.starts_with("Hash="), "{xfcc}");
    assert!(!xfcc.contains("forged"), "{xfcc}");
    assert!(xfcc.contains("Subject=\"CN=client.test\""), "{xfcc}");
    assert!(xfcc.contains("DNS=client.test"), "{xfcc}");

    let lines = gw.wait_access_lines(1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(v["client_subject"], "CN=client.test");
}

#[tokio::test]
async fn optional_client_certificate() {
    let pki = pki();
    let up = Upstream::start("u").await;
    let ca = pki.dir.path().join("clients-ca.pem");
    let gw = Gateway::start(&listener_config(
        &up.addr.to_string(),
        &pki.server,
        &ca,
        "optional",
    ));

    let r = spoofed_get(&gw, &pki, None).await.expect("without cert");
    assert_eq!(r.status, 200);
    let r = spoofed_get(&gw, &pki, Some(&pki.client))
        .await
        .expect("with cert");
    assert_eq!(r.status, 200);
    // Optional still verifies a certificate that is offered.
    assert!(spoofed_get(&gw, &pki, Some(&pki.stranger)).await.is_err());

    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    // Without a certificate the spoofed header is gone and nothing replaces it.
    assert!(!seen[0].headers.contains_key("x-forwarded-client-cert"));
    let xfcc = seen[1].headers["x-forwarded-client-cert"]
        .to_str()
        .expect("ascii");
    assert!(
        xfcc.contains("CN=client.test") && !xfcc.contains("forged"),
        "{xfcc}"
    );
}

#[tokio::test]
async fn revoked_client_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "server");
    let server = ca.leaf(dir.path(), "gw", &["gw.test"]);
    let clients = Ca::new(dir.path(), "clients");
    let good = clients.leaf_serial(dir.path(), "good", &["good.test"], 7);
    let revoked = clients.leaf_serial(dir.path(), "revoked", &["revoked.test"], 8);
    let crl = clients.crl(dir.path(), "clients", &[8]);
    let up = Upstream::start("u").await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: "{}", key: "{}" }}]
      client_auth: {{ mode: required, ca: "{}", crls: ["{}"] }}
backends:
  - name: app
    endpoints: [{{ address: "{}" }}]
routes:
  - name: app
    backend: app
"#,
        p(&server.cert),
        p(&server.key),
        p(&clients.path),
        p(&crl),
        up.addr
    );
    let gw = Gateway::start(&yaml);
    let get = |leaf: &Leaf| {
        let o = opts(Some(leaf));
        let pem = ca.pem.clone();
        let addr = gw.addr("https");
        async move { tls::get(addr, &pem, &o, "gw.test", "/").await }
    };
    assert_eq!(get(&good).await.expect("good cert").status, 200);
    assert!(get(&revoked).await.is_err(), "revoked cert must be refused");
    assert_eq!(up.count(), 1);
}

fn backend_config(upstream: &str, backend_tls: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
    timeouts: {{ connect: 2s, request: 5s }}
    retry_on_connect_failure: false
    tls: {backend_tls}
routes:
  - name: app
    backend: app
"#
    )
}

#[tokio::test]
async fn backend_tls_verified_wrong_ca_and_mtls() {
    let pki = pki();
    let dir = pki.dir.path();
    // The backend's certificate names its IP and a DNS name.
    let backend_leaf = pki.ca.leaf(dir, "backend", &["127.0.0.1", "app.internal"]);
    let server_ca = dir.join("server-ca.pem");
    let other_ca = dir.join("other-ca.pem");

    // 1. Verified against the right CA, by IP and by a server_name override.
    let addr = tls::tls_upstream(&backend_leaf, None).await;
    for tls_spec in [
        format!("{{ ca: \"{}\" }}", p(&server_ca)),
        format!("{{ ca: \"{}\", server_name: app.internal }}", p(&server_ca)),
    ] {
        let gw = Gateway::start(&backend_config(&addr.to_string(), &tls_spec));
        let r = get(gw.addr("web"), "/").await;
        assert_eq!(r.status, 200, "{tls_spec}: {}", r.body);
        assert_eq!(r.body, "tls upstream");
        // Keep-alive: a second request reuses the pooled TLS connection.
        let r = get(gw.addr("web"), "/again").await;
        assert_eq!(r.status, 200);
    }

    // 2. Wrong CA: 502 and a clear log line, never a plaintext fallback.
    let mut gw = Gateway::start(&backend_config(
        &addr.to_string(),
        &format!("{{ ca: \"{}\" }}", p(&other_ca)),
    ));
    let r = get(gw.addr("web"), "/").await;
    assert_eq!(r.status, 502);
    let line = gw.wait_log("backend TLS handshake failed");
    assert!(line.contains("app"), "{line}");

    // 3. A backend that requires a client certificate.
    let mtls_addr = tls::tls_upstream(&backend_leaf, Some(&dir.join("clients-ca.pem"))).await;
    let without = Gateway::start(&backend_config(
        &mtls_addr.to_string(),
        &format!("{{ ca: \"{}\" }}", p(&server_ca)),
    ));
    assert_eq!(get(without.addr("web"), "/").await.status, 502);
    let with = Gateway::start(&backend_config(
        &mtls_addr.to_string(),
        &format!(
            "{{ ca: \"{}\", client_certificate: {{ cert: \"{}\", key: \"{}\" }} }}",
            p(&server_ca),
            p(&pki.client.cert),
            p(&pki.client.key)
        ),
    ));
    let r = get(with.addr("web"), "/").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The verified certificate becomes the principal (`mtls` policy) and an
/// authorization rule decides on its subject; anonymous requests on an
/// optional listener are refused with 401 by the policy itself.
#[tokio::test]
async fn client_certificate_as_principal_for_authorization() {
    let pki = pki();
    let up = Upstream::start("u").await;
    let ca = pki.dir.path().join("clients-ca.pem");
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: "{}", key: "{}" }}]
      client_auth: {{ mode: optional, ca: "{}" }}
backends:
  - name: app
    endpoints: [{{ address: "{}" }}]
policies:
  - name: cert
    mtls: {{}}
  - name: only-client
    authz:
      rules: [{{ name: client, action: allow, subjects: ["CN=client.test"] }}]
routes:
  - name: app
    policies: [cert, only-client]
    backend: app
"#,
        p(&pki.server.cert),
        p(&pki.server.key),
        p(&ca),
        up.addr
    );
    let gw = Gateway::start(&yaml);
    let ok = spoofed_get(&gw, &pki, Some(&pki.client))
        .await
        .expect("with cert");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let anonymous = spoofed_get(&gw, &pki, None)
        .await
        .expect("optional listener");
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        up.count(),
        1,
        "only the authorised request reached the backend"
    );
    let lines = gw.wait_access_lines(2);
    assert!(
        lines.iter().any(|l| l.contains("\"auth_method\":\"mtls\"")
            && l.contains("\"subject\":\"CN=client.test\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"client_certificate_missing\""))
    );
}
