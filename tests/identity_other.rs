//! API keys, HTTP Basic and external (forward) authentication against the
//! real binary, with a real auth service started here: allow with headers,
//! deny relayed with its redirect, slow and down services failing closed.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// An auth service: `Bearer good` → 200 with `x-auth-user: alice`;
/// `/slow` paths take 3 s; anything else → 302 to a login page.
async fn auth_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<Incoming>| async move {
                    let uri = req
                        .headers()
                        .get("x-forwarded-uri")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    if uri.starts_with("/ext/slow") {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    let good = req
                        .headers()
                        .get("authorization")
                        .is_some_and(|v| v == "Bearer good");
                    let mut resp =
                        Response::new(Full::new(Bytes::from(if good { "" } else { "go login" })));
                    if good {
                        resp.headers_mut()
                            .insert("x-auth-user", "alice".parse().unwrap());
                    } else {
                        *resp.status_mut() = StatusCode::FOUND;
                        resp.headers_mut()
                            .insert("location", "https://login.test/?next=x".parse().unwrap());
                        resp.headers_mut()
                            .insert("x-secret-internal", "1".parse().unwrap());
                    }
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn config(upstream: SocketAddr, auth: SocketAddr, htpasswd: &str) -> String {
    let hash = sha256_hex("key-123");
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
policies:
  - name: keys
    api_key:
      keys: [{{ client_id: ci-bot, hash: "sha256:{hash}", roles: [deploy] }}]
      client_id_header: x-client
  - name: deployers
    authz:
      rules: [{{ name: deploy, action: allow, roles: [deploy] }}]
  - name: users
    basic: {{ htpasswd_file: "{htpasswd}", realm: staff, user_header: x-user }}
  - name: ext
    external:
      url: "http://{auth}/check"
      headers_to_upstream: [x-auth-user]
      subject_header: x-auth-user
      timeout: 500ms
  - name: ext-down
    external: {{ url: "http://127.0.0.1:1/check", timeout: 500ms }}
routes:
  - name: keyed
    match: {{ path: {{ prefix: /keyed }} }}
    policies: [keys, deployers]
    backend: app
  - name: basic
    match: {{ path: {{ prefix: /basic }} }}
    policies: [users]
    backend: app
  - name: ext
    match: {{ path: {{ prefix: /ext }} }}
    policies: [ext]
    backend: app
  - name: ext-down
    match: {{ path: {{ prefix: /down }} }}
    policies: [ext-down]
    backend: app
"#
    )
}

fn req(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "example.com");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

struct Setup {
    gw: Gateway,
    upstream: Upstream,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("users");
    let hash = bcrypt::hash("hunter2", 4).unwrap();
    std::fs::write(&htpasswd, format!("bob:{hash}\n")).unwrap();
    let upstream = Upstream::start("app").await;
    let auth = auth_service().await;
    let gw = Gateway::start(&config(upstream.addr, auth, &htpasswd.to_string_lossy()));
    Setup {
        gw,
        upstream,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_basic() {
    let s = setup().await;
    let addr = s.gw.addr("web");
    let ok = send(
        addr,
        req(
            "/keyed",
            &[("x-api-key", "key-123"), ("x-client", "spoofed")],
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seen = s.upstream.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.headers["x-client"], "ci-bot");
    assert!(!last.headers.contains_key("x-api-key"), "key stripped");
    let bad = send(addr, req("/keyed", &[("x-api-key", "key-124")])).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.headers["www-authenticate"], "ApiKey realm=\"keys\"");

    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:hunter2")
    );
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:hunter3")
    );
    let r = send(addr, req("/basic", &[("authorization", &good)])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = s.upstream.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.headers["x-user"], "bob");
    assert!(
        !last.headers.contains_key("authorization"),
        "credentials stripped"
    );
    let r = send(addr, req("/basic", &[("authorization", &wrong)])).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], "Basic realm=\"staff\"");
    let lines = s.gw.wait_access_lines(4);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"auth_method\":\"api_key\"")
                && l.contains("\"key_id\":\"ci-bot\""))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"credentials_invalid\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_auth_allows_relays_and_fails_closed() {
    let s = setup().await;
    let addr = s.gw.addr("web");
    let ok = send(
        addr,
        req(
            "/ext/a",
            &[("authorization", "Bearer good"), ("x-auth-user", "mallory")],
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        s.upstream.seen().last().unwrap().headers["x-auth-user"],
        "alice"
    );

    let before = s.upstream.count();
    let denied = send(addr, req("/ext/a", &[("authorization", "Bearer bad")])).await;
    assert_eq!(denied.status, 302);
    assert_eq!(denied.headers["location"], "https://login.test/?next=x");
    assert!(
        !denied.headers.contains_key("x-secret-internal"),
        "only chosen headers relayed"
    );
    assert_eq!(denied.body, "go login");

    let slow = send(addr, req("/ext/slow", &[("authorization", "Bearer good")])).await;
    assert_eq!(slow.status, 503, "slow service fails closed");
    let down = send(addr, req("/down", &[])).await;
    assert_eq!(down.status, 503, "unreachable service fails closed");
    assert_eq!(s.upstream.count(), before, "nothing reached the backend");
    let lines = s.gw.wait_access_lines(4);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"external_auth_unavailable\""))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"subject\":\"alice\"")
                && l.contains("\"auth_method\":\"external\""))
    );
}
