//! Size limits end to end: request body (declared length and chunked, the
//! backend never receives more than the limit), the request-target length
//! (414), with the reasons in the access log.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

fn config(upstream: std::net::SocketAddr) -> String {
    config_with_raw(upstream, upstream)
}

fn config_with_raw(upstream: std::net::SocketAddr, raw: std::net::SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
    http: {{ max_body_bytes: 1000, max_uri_bytes: 100 }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
  - name: raw
    endpoints: [{{ address: "{raw}" }}]
routes:
  - name: raw
    match: {{ path: {{ prefix: /raw }} }}
    backend: raw
  - name: app
    backend: app
"#
    )
}

fn wait_seen(upstream: &Upstream, n: usize) -> Vec<Seen> {
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = upstream.seen();
        if seen.len() >= n {
            return seen;
        }
        assert!(Instant::now() < deadline, "upstream saw {}", seen.len());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn post(body: usize) -> Request<Full<Bytes>> {
    Request::post("/upload")
        .header("host", "example.com")
        .body(Full::new(Bytes::from(vec![b'a'; body])))
        .unwrap()
}

#[tokio::test]
async fn declared_length_over_the_limit_is_refused_before_the_backend() {
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(upstream.addr));
    let addr = gw.addr("web");
    let reply = send(addr, post(1001)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(send(addr, post(1000)).await.status, 200);
    let seen = wait_seen(&upstream, 1);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body_len, 1000);
    let lines = gw.wait_access_lines(2);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"body_too_large\"")),
        "{lines:?}"
    );
}

/// An upstream that records every byte it receives on one connection, until
/// the gateway closes it (hyper would drop a half-received request unseen).
async fn byte_counting_upstream() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Vec<u8>>,
) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut got)).await;
        let _ = tx.send(got);
    });
    (addr, rx)
}

#[tokio::test]
async fn chunked_body_is_cut_at_the_limit() {
    let upstream = Upstream::start("app").await;
    let (raw_addr, received) = byte_counting_upstream().await;
    let gw = Gateway::start(&config_with_raw(upstream.addr, raw_addr));
    let addr = gw.addr("web");
    let chunk = "a".repeat(400);
    let mut request = String::from(
        "POST /raw HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..3 {
        request.push_str(&format!("190\r\n{chunk}\r\n"));
    }
    request.push_str("0\r\n\r\n");
    let answer = raw(addr, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The backend got at most the limit (the body is re-chunked upstream,
    // so count the payload bytes), then the connection was closed.
    let got = tokio::time::timeout(WAIT, received).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&got);
    let (_, body) = text.split_once("\r\n\r\n").unwrap_or(("", ""));
    let payload = body.bytes().filter(|b| *b == b'a').count();
    assert!(payload <= 1000, "{payload} bytes reached the backend");

    // Under the limit, chunked passes whole.
    let mut ok = String::from(
        "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    ok.push_str(&format!("190\r\n{chunk}\r\n190\r\n{chunk}\r\n0\r\n\r\n"));
    let answer = raw(addr, ok.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = wait_seen(&upstream, 1);
    assert_eq!(seen[0].body_len, 800);
}

#[tokio::test]
async fn long_target_is_414() {
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(upstream.addr));
    let addr = gw.addr("web");
    let long = format!("/{}", "x".repeat(100));
    assert_eq!(get(addr, &long).await.status, 414);
    assert_eq!(get(addr, &long[..100]).await.status, 200);
    let lines = gw.wait_access_lines(2);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"uri_too_long\"")),
        "{lines:?}"
    );
    assert_eq!(upstream.count(), 1);
}

/// Slow POST: a client that sends its head and then trickles the body is
/// cut off with 408 (`body_too_slow`) while other clients are served.
#[tokio::test]
async fn slow_post_is_cut_off_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = Upstream::start("app").await;
    let yaml = config(upstream.addr).replace(
        "max_uri_bytes: 100 }",
        "max_uri_bytes: 100, min_body_rate: { bytes_per_sec: 1000, grace: 200ms } }",
    );
    let gw = Gateway::start(&yaml);
    let addr = gw.addr("web");
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\nabc")
            .await
            .unwrap();
        slow.push(s);
    }
    // Normal clients still get answers while 50 bodies stall.
    assert_eq!(send(addr, post(500)).await.status, 200);
    let started = Instant::now();
    for mut s in slow {
        let mut out = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut out))
            .await
            .expect("slow body never cut off")
            .unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let lines = gw.wait_access_lines(51);
    let slow_lines = lines
        .iter()
        .filter(|l| l.contains("\"reason\":\"body_too_slow\""))
        .count();
    assert_eq!(slow_lines, 50);
}
