//! Connection limits end to end: per client IP, global, a CIDR override,
//! the `conn_limit` log reason, requests per connection, idle timeout.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = r#"
admin: { address: 127.0.0.1:0 }
listeners:
  - name: web
    address: 127.0.0.1:0
    connections:
      max: 4
      per_client_ip: 2
      overrides: [{ cidr: 127.0.0.9/32, per_client_ip: 3 }]
  - name: short
    address: 127.0.0.1:0
    connections: { max_requests: 2, idle_timeout: 300ms }
routes:
  - name: ok
    direct_response: { body: ok }
"#;

fn req() -> Request<Full<Bytes>> {
    Request::get("/")
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A kept-open connection that has completed one request (so the gateway
/// has counted it).
async fn open(source: &str, addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = connect_from(source, addr).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req()).await.unwrap();
    assert_eq!(resp.status(), 200);
    sender
}

/// Whether a new connection from `source` is served (`false`: closed at once).
async fn served(source: &str, addr: SocketAddr) -> bool {
    let mut stream = connect_from(source, addr).await;
    let _ = stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut out)).await;
    out.starts_with(b"HTTP/1.1 200")
}

#[tokio::test]
async fn per_ip_global_and_override() {
    let gw = Gateway::start(CONFIG);
    let addr = gw.addr("web");
    let a1 = open("127.0.0.2", addr).await;
    let _a2 = open("127.0.0.2", addr).await;
    assert!(!served("127.0.0.2", addr).await, "third from one IP");
    let _b = open("127.0.0.3", addr).await;
    // The override lets 127.0.0.9 have a third, but the listener is full at 4.
    let _c = open("127.0.0.9", addr).await;
    assert!(!served("127.0.0.9", addr).await, "global limit");
    assert!(!served("127.0.0.4", addr).await, "global limit");
    // Closing one frees a place (the gateway notices asynchronously).
    drop(a1);
    let deadline = Instant::now() + WAIT;
    while !served("127.0.0.4", addr).await {
        assert!(Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Refusal records are written by the log thread: wait for them.
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = gw.access_log();
        let refused = lines
            .iter()
            .filter(|l| l.contains("\"reason\":\"conn_limit\""))
            .count();
        if refused >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn override_raises_the_per_ip_limit() {
    let gw = Gateway::start(CONFIG);
    let addr = gw.addr("web");
    let _c1 = open("127.0.0.9", addr).await;
    let _c2 = open("127.0.0.9", addr).await;
    let _c3 = open("127.0.0.9", addr).await;
    assert!(!served("127.0.0.9", addr).await);
}

#[tokio::test]
async fn max_requests_closes_the_connection() {
    let gw = Gateway::start(CONFIG);
    let stream = connect_from("127.0.0.2", gw.addr("short")).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let first = sender.send_request(req()).await.unwrap();
    assert!(first.headers().get("connection").is_none());
    let second = sender.send_request(req()).await.unwrap();
    assert_eq!(second.headers()["connection"], "close");
    // The gateway closes after the second response.
    let _ = collect(second).await;
    tokio::time::timeout(WAIT, conn)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let gw = Gateway::start(CONFIG);
    let mut stream = connect_from("127.0.0.2", gw.addr("short")).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    // The read ends when the gateway closes the idle connection.
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("idle connection was not closed")
        .unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200"));
    assert!(started.elapsed() >= Duration::from_millis(250));
}
