//! End-to-end tests: a real hyper server behind `FramingGuard`, driven by raw
//! bytes over TCP, to prove hyper itself answers 400 for rejected framing and
//! the service never sees the bad request.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::*;

const LIMITS: FramingLimits = FramingLimits {
    max_head_bytes: 16 * 1024,
    max_headers: 64,
    head_timeout: Duration::from_secs(60),
};

#[derive(Clone, Copy)]
enum Server {
    Http1,
    Auto,
}

struct Exchange {
    response: String,
    /// Requests the service saw, with their bodies.
    seen: Vec<String>,
    violation: Option<Violation>,
}

/// Serves one connection behind the guard, sends `raw`, reads until the
/// server closes.
async fn exchange(server: Server, raw: &[u8]) -> Exchange {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen_srv = seen.clone();
    let calls_srv = calls.clone();
    let server_task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let guard = FramingGuard::new(stream, LIMITS);
        let handle = guard.violation_handle();
        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
            let seen = seen_srv.clone();
            let calls = calls_srv.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let line = format!("{} {}", req.method(), req.uri());
                let body = req.into_body().collect().await.map(|b| b.to_bytes());
                let body = body.map_or_else(
                    |e| format!("<error {e}>"),
                    |b| String::from_utf8_lossy(&b).into_owned(),
                );
                seen.lock().unwrap().push(format!("{line} {body}"));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        });
        let io = TokioIo::new(guard);
        // Connection errors are expected for rejected streams.
        let _ = match server {
            // hyper gets the guard's `max_headers`, as the gateway must
            // configure it.
            Server::Http1 => hyper::server::conn::http1::Builder::new()
                .max_headers(LIMITS.max_headers)
                .serve_connection(io, svc)
                .await
                .map_err(|e| e.to_string()),
            Server::Auto => {
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder.http1().max_headers(LIMITS.max_headers);
                builder
                    .serve_connection(io, svc)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        handle.get()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(raw).await.unwrap();
    let mut response = Vec::new();
    timeout(Duration::from_secs(10), client.read_to_end(&mut response))
        .await
        .expect("server closed the connection in time")
        .unwrap();
    let violation = timeout(Duration::from_secs(10), server_task)
        .await
        .expect("server task ended")
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(calls.load(Ordering::SeqCst), seen.len());
    Exchange {
        response: String::from_utf8_lossy(&response).into_owned(),
        seen,
        violation,
    }
}

fn statuses(response: &str) -> Vec<&str> {
    response
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &response[i + 9..i + 12])
        .collect()
}

#[tokio::test]
async fn valid_request_is_served() {
    for server in [Server::Http1, Server::Auto] {
        let ex = exchange(
            server,
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        )
        .await;
        assert_eq!(statuses(&ex.response), ["200"], "{}", ex.response);
        assert_eq!(ex.seen, ["POST /a hi"]);
        assert_eq!(ex.violation, None);
    }
}

#[tokio::test]
async fn content_length_with_transfer_encoding_gets_400() {
    for server in [Server::Http1, Server::Auto] {
        let ex = exchange(
            server,
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        assert_eq!(statuses(&ex.response), ["400"], "{}", ex.response);
        assert!(ex.seen.is_empty(), "{:?}", ex.seen);
        assert_eq!(ex.violation, Some(Violation::ClAndTe));
    }
}

#[tokio::test]
async fn bare_lf_gets_400() {
    let ex = exchange(Server::Http1, b"GET / HTTP/1.1\nHost: x\n\n").await;
    assert_eq!(statuses(&ex.response), ["400"], "{}", ex.response);
    assert!(ex.seen.is_empty());
    assert_eq!(ex.violation, Some(Violation::BareLf));
}

#[tokio::test]
async fn valid_then_invalid_pipelined() {
    for server in [Server::Http1, Server::Auto] {
        let ex = exchange(
            server,
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        )
        .await;
        assert_eq!(statuses(&ex.response), ["200", "400"], "{}", ex.response);
        assert_eq!(ex.seen, ["GET /first "]);
        assert_eq!(ex.violation, Some(Violation::DuplicateHost));
    }
}

#[tokio::test]
async fn bad_chunk_aborts_the_body() {
    let ex = exchange(
        Server::Http1,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\nzz\r\n0\r\n\r\n",
    )
    .await;
    // The service saw the request, but its body failed: nothing complete
    // could have been forwarded.
    assert_eq!(ex.seen.len(), 1);
    assert!(ex.seen[0].contains("<error"), "{:?}", ex.seen);
    assert_eq!(ex.violation, Some(Violation::BareLf));
}

#[tokio::test]
async fn oversize_heads_get_431() {
    for server in [Server::Http1, Server::Auto] {
        // Over max_head_bytes, hiding CL+TE: hyper's default buffer limit
        // would parse it, so the guard substitutes a head hyper refuses.
        let padding = "p".repeat(LIMITS.max_head_bytes);
        let raw = format!(
            "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nPOST /big HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        let ex = exchange(server, raw.as_bytes()).await;
        assert_eq!(statuses(&ex.response), ["200", "431"], "{}", ex.response);
        assert_eq!(ex.seen, ["GET /ok "]);
        assert_eq!(ex.violation, None);
        // Over max_headers: passed on, and hyper refuses it itself.
        let headers = "X-H: v\r\n".repeat(LIMITS.max_headers);
        let raw = format!("GET /many HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        let ex = exchange(server, raw.as_bytes()).await;
        assert_eq!(statuses(&ex.response), ["431"], "{}", ex.response);
        assert!(ex.seen.is_empty());
    }
}

#[tokio::test]
async fn h2_prior_knowledge_passes() {
    // The preface plus an empty SETTINGS frame: the auto server answers with
    // its own SETTINGS frame (type 4) rather than an HTTP/1 response.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let io = TokioIo::new(FramingGuard::new(stream, LIMITS));
        let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        });
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection(io, svc)
            .await;
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut frame_header = [0u8; 9];
    timeout(
        Duration::from_secs(10),
        client.read_exact(&mut frame_header),
    )
    .await
    .expect("server answered in time")
    .unwrap();
    assert_eq!(frame_header[3], 4, "SETTINGS frame: {frame_header:?}");
    drop(client);
    server_task.abort();
}
