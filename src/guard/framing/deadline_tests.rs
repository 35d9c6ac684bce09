//! Head-deadline tests: a real hyper server behind `FramingGuard` with a short
//! `head_timeout`, driven over TCP by clients that stall or trickle.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::*;

const TIMEOUT: Duration = Duration::from_millis(300);
/// Far past `TIMEOUT`: a connection still open by then was never timed out.
const MARGIN: Duration = Duration::from_secs(5);

const LIMITS: FramingLimits = FramingLimits {
    max_head_bytes: 16 * 1024,
    max_headers: 64,
    head_timeout: TIMEOUT,
};

/// Serves one connection behind the guard with hyper-util's auto builder
/// (as the gateway does; hyper's own head timer is not set). Resolves to the
/// guard's verdict once the connection ends.
async fn serve_one() -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<Option<Violation>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_srv = calls.clone();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let guard = FramingGuard::new(stream, LIMITS);
        let handle = guard.violation_handle();
        let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
            calls_srv.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
        });
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(guard), svc)
            .await;
        handle.get()
    });
    (addr, calls, task)
}

/// Reads until the server closes; panics if it is still open after `MARGIN`.
async fn read_until_closed(client: &mut TcpStream) -> String {
    let mut response = Vec::new();
    timeout(MARGIN, client.read_to_end(&mut response))
        .await
        .expect("server closed the connection in time")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Reads one complete `ok` response (the body ends it).
async fn read_ok(client: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.ends_with(b"\r\n\r\nok") {
        let n = timeout(MARGIN, client.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "closed early: {response:?}");
        response.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn half_a_first_head_gets_408_and_close() {
    for sent in [&b""[..], b"GET / HTTP/1.1\r\nHost: x\r\n", b"PRI * HT"] {
        let (addr, calls, task) = serve_one().await;
        let start = Instant::now();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(sent).await.unwrap();
        let response = read_until_closed(&mut client).await;
        assert!(start.elapsed() >= TIMEOUT, "closed before the deadline");
        assert!(
            response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{response:?}"
        );
        let verdict = timeout(MARGIN, task).await.unwrap().unwrap();
        assert_eq!(verdict, Some(Violation::HeadTimeout));
        assert_eq!(verdict.unwrap().as_str(), "head_timeout");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_head_in_small_pieces_within_the_deadline_is_served() {
    let (addr, calls, task) = serve_one().await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let head = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: abcdefgh\r\nConnection: close\r\n\r\n";
    // About 70 bytes, 7 at a time every 10 ms: well inside the deadline.
    for piece in head.chunks(7) {
        client.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = read_until_closed(&mut client).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(timeout(MARGIN, task).await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn keep_alive_idle_time_is_not_the_head_deadline() {
    let (addr, calls, task) = serve_one().await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_ok(&mut client).await;
    // Idle for twice the head deadline: not a late head (the gateway leaves
    // idle time to hyper's header_read_timeout).
    tokio::time::sleep(TIMEOUT * 2).await;
    client
        .write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_until_closed(&mut client).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(timeout(MARGIN, task).await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn half_a_later_head_closes_the_connection() {
    let (addr, calls, task) = serve_one().await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let start = Instant::now();
    let response = read_until_closed(&mut client).await;
    assert!(start.elapsed() < MARGIN);
    // The first response only: a 408 could interleave with a response hyper
    // is still writing, so a later head just ends the connection.
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert_eq!(response.matches("HTTP/1.1").count(), 1, "{response:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let verdict = timeout(MARGIN, task).await.unwrap().unwrap();
    assert_eq!(verdict, Some(Violation::HeadTimeout));
}
