//! Threat feeds against the real binary: a list from a local HTTPS server
//! (rustls, started here) with ETag revalidation, a list from a file with
//! garbage lines, a refused `0.0.0.0/0` and a truncated download that keep
//! the last good list, and the `tag` action.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::tls::Ca;
use common::*;
use http::Request;
use http_body_util::Full;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Default)]
struct FeedServer {
    body: String,
    etag: String,
    /// Announce more bytes than sent, then close (a cut download).
    truncate: bool,
    full: usize,
    not_modified: usize,
}

/// An HTTPS server answering every GET with the current list (or 304 when
/// `If-None-Match` matches its ETag).
async fn feed_server(dir: &Path, state: Arc<Mutex<FeedServer>>) -> (SocketAddr, String) {
    let ca = Ca::new(dir, "feeds");
    let leaf = ca.leaf(dir, "feeds", &["127.0.0.1"]);
    let chain: Vec<_> = CertificateDer::pem_file_iter(&leaf.cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let answer = {
                    let mut s = state.lock().unwrap();
                    let etag = s.etag.clone();
                    if head.contains(&format!("if-none-match: {}", etag.to_lowercase())) {
                        s.not_modified += 1;
                        "HTTP/1.1 304 Not Modified\r\nconnection: close\r\n\r\n".to_owned()
                    } else {
                        s.full += 1;
                        let announced = s.body.len() + if s.truncate { 1000 } else { 0 };
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {announced}\r\netag: {etag}\r\nconnection: close\r\n\r\n{}",
                            s.body
                        )
                    }
                };
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca.path.display().to_string())
}

fn root() -> Request<Full<Bytes>> {
    Request::get("/")
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn status_from(source: &'static str, web: SocketAddr) -> u16 {
    send_from(source, web, root()).await.status
}

async fn until(source: &'static str, web: SocketAddr, status: u16) {
    let deadline = Instant::now() + WAIT;
    while status_from(source, web).await != status {
        assert!(Instant::now() < deadline, "{source} never got {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn metric(gw: &Gateway, needle: &str) -> u64 {
    let body = get(gw.admin, "/metrics").await.body;
    body.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn https_feed_revalidates_keeps_the_last_good_list_and_denies() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(FeedServer {
        body: "# test feed\n127.0.0.2\n127.0.0.3/32\n".into(),
        etag: "\"v1\"".into(),
        ..FeedServer::default()
    }));
    let (addr, ca) = feed_server(dir.path(), Arc::clone(&state)).await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
feeds:
  - name: remote
    url: "https://127.0.0.1:{port}/list.netset"
    ca_file: "{ca}"
    format: netset
    refresh: 1s
listeners:
  - name: web
    address: 127.0.0.1:0
    policies: [block-feeds]
policies:
  - name: block-feeds
    threat_feed: {{ feeds: [remote] }}
routes:
  - name: all
    match: {{ path: {{ prefix: / }} }}
    direct_response: {{ body: ok }}
"#,
        port = addr.port()
    );
    let gw = Gateway::start(&yaml);
    let web = gw.addr("web");
    until("127.0.0.2", web, 403).await;
    assert_eq!(status_from("127.0.0.1", web).await, 200);
    assert_eq!(status_from("127.0.0.3", web).await, 403);

    // Unchanged: the next refreshes are conditional and answered 304.
    let deadline = Instant::now() + WAIT;
    while state.lock().unwrap().not_modified < 1 {
        assert!(Instant::now() < deadline, "no conditional request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.lock().unwrap().full, 1);

    // A truncated download (Content-Length not met) keeps the list.
    {
        let mut s = state.lock().unwrap();
        s.body = "127.0.0.4\n".into();
        s.etag = "\"v2\"".into();
        s.truncate = true;
    }
    let deadline = Instant::now() + WAIT;
    while metric(
        &gw,
        "portcullis_feed_loads_total{feed=\"remote\",result=\"failed\"}",
    )
    .await
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "the truncated load was never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status_from("127.0.0.2", web).await,
        403,
        "last good list kept"
    );
    assert_eq!(status_from("127.0.0.4", web).await, 200);
    assert_eq!(
        metric(&gw, "portcullis_feed_failing{feed=\"remote\"}").await,
        1
    );

    // A list refusing everyone is refused whole.
    {
        let mut s = state.lock().unwrap();
        s.truncate = false;
        s.body = "127.0.0.4\n0.0.0.0/0\n".into();
        s.etag = "\"v3\"".into();
    }
    let deadline = Instant::now() + WAIT;
    while metric(
        &gw,
        "portcullis_feed_loads_total{feed=\"remote\",result=\"failed\"}",
    )
    .await
        < 2
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_from("127.0.0.1", web).await, 200);
    assert_eq!(status_from("127.0.0.4", web).await, 200);

    // A good new list is swapped in.
    {
        let mut s = state.lock().unwrap();
        s.body = "127.0.0.4\n".into();
        s.etag = "\"v4\"".into();
    }
    until("127.0.0.4", web, 403).await;
    until("127.0.0.2", web, 200).await;
    assert_eq!(
        metric(&gw, "portcullis_feed_entries{feed=\"remote\"}").await,
        1
    );
}

#[tokio::test]
async fn file_feed_skips_garbage_and_tag_lets_requests_through() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("drop.txt");
    std::fs::write(
        &list,
        "; garbage, zone ids, duplicates and overlaps\nnot-an-ip\nfe80::1%eth0\n127.0.0.0/30\n127.0.0.2\n127.0.0.2\n",
    )
    .unwrap();
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
feeds:
  - {{ name: local, file: "{}", refresh: 1s }}
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: tag-feed
    threat_feed: {{ feeds: [local], action: tag }}
routes:
  - name: all
    match: {{ path: {{ prefix: / }} }}
    policies: [tag-feed]
    direct_response: {{ body: ok }}
"#,
        list.display()
    );
    let gw = Gateway::start(&yaml);
    let web = gw.addr("web");
    let deadline = Instant::now() + WAIT;
    while metric(&gw, "portcullis_feed_entries{feed=\"local\"}").await != 2 {
        assert!(Instant::now() < deadline, "feed never loaded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        metric(&gw, "portcullis_feed_invalid_lines{feed=\"local\"}").await,
        2
    );
    // Tagged, not refused: logged with the reason.
    assert_eq!(status_from("127.0.0.2", web).await, 200);
    let lines = gw.wait_access_lines(1);
    assert!(lines[0].contains("threat_feed_tagged"), "{}", lines[0]);
}
