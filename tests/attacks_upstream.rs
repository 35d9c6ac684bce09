//! Attack suite, hostile upstreams: a scripted raw TCP upstream answers with
//! malformed or ambiguous responses. The client must get a 502 (never the
//! garbage), a truncated body must reach the client as an aborted body (not
//! a hang), and the gateway must keep serving.

mod common;

use std::net::SocketAddr;

use common::attack::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream that reads each request head and answers it with `reply`,
/// then closes the connection.
async fn scripted(reply: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&reply).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// A gateway whose `/bad` route goes to `bad` and everything else to a
/// well-behaved upstream.
async fn setup_bad(bad: SocketAddr) -> (Gateway, Upstream) {
    let up = Upstream::start("good").await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: bad
    endpoints: [{{ address: "{bad}" }}]
    timeouts: {{ connect: 1s, request: 3s }}
    health: {{ consecutive_failures: 1000 }}
  - name: good
    endpoints: [{{ address: "{}" }}]
routes:
  - name: bad
    match: {{ path: {{ prefix: /bad }} }}
    backend: bad
  - name: good
    match: {{ path: {{ prefix: / }} }}
    backend: good
"#,
        up.addr
    );
    (Gateway::start(&yaml), up)
}

const GARBAGE: &[(&str, &[u8])] = &[
    (
        "conflicting Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
    ("invalid status line", b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"),
    ("unknown version", b"HTTP/7.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("status out of range", b"HTTP/1.1 1000 OK\r\nContent-Length: 0\r\n\r\n"),
    (
        "Content-Length and chunked",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    ),
    (
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\r\n b\r\n\r\nhi",
    ),
    (
        "NUL in header",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\0b\r\n\r\nhi",
    ),
    ("closed mid-headers", b"HTTP/1.1 200 OK\r\nContent-Le"),
    ("HTTP/0.9 body", b"<html>no status line</html>\r\n"),
    ("nothing at all", b""),
];

#[tokio::test]
async fn malformed_responses_become_502() {
    for (name, reply) in GARBAGE {
        let bad = scripted(reply.to_vec()).await;
        let (gw, up) = setup_bad(bad).await;
        let raw = "GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let got = exchange(gw.addr("web"), raw.as_bytes()).await;
        assert_eq!(statuses(&got), [502], "{name}: {got}");
        assert!(
            !got.contains("X-Evil") && !got.contains("hello"),
            "{name}: {got}"
        );
        assert_healthy(&gw, &up).await;
    }
}

#[tokio::test]
async fn oversized_response_head_becomes_502() {
    let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..2000 {
        reply.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    reply.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let bad = scripted(reply).await;
    let (gw, up) = setup_bad(bad).await;
    let raw = "GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let got = exchange(gw.addr("web"), raw.as_bytes()).await;
    assert_eq!(statuses(&got), [502], "{}", &got[..got.len().min(300)]);
    assert_healthy(&gw, &up).await;
}

/// The head was good and already relayed when the body stops short: the
/// client must see the body end early (connection closed before
/// Content-Length bytes, or no last chunk), promptly.
#[tokio::test]
async fn truncated_body_is_aborted_not_hung() {
    let cases: [&[u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly part\r\n",
    ];
    for reply in cases {
        let bad = scripted(reply.to_vec()).await;
        let (gw, up) = setup_bad(bad).await;
        let raw = "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n";
        // Not `Connection: close`: the gateway must end the connection
        // itself, since the response cannot be completed.
        let got = exchange(gw.addr("web"), raw.as_bytes()).await;
        // Either the head and the partial body were flushed before the
        // upstream broke off, or the connection closed with nothing written
        // (the break came before the first flush). Both tell the client the
        // response failed; neither may look complete.
        if statuses(&got).is_empty() {
            assert!(got.is_empty(), "{got}");
            assert_healthy(&gw, &up).await;
            continue;
        }
        assert_eq!(statuses(&got), [200], "{got}");
        assert!(got.contains("only part"), "{got}");
        let complete = match got.split_once("\r\n\r\n") {
            Some((head, body)) if head.contains("content-length: 100") => body.len() == 100,
            Some((_, body)) => body.ends_with("0\r\n\r\n"),
            None => false,
        };
        assert!(
            !complete,
            "a truncated body was presented as complete: {got}"
        );
        assert_healthy(&gw, &up).await;
    }
}

/// Bare-LF line endings in a response head are refused like every other
/// framing irregularity: a strict upstream never sends them, and a proxy
/// that reads line ends differently from its peers is a smuggling risk.
#[tokio::test]
async fn bare_lf_response_head_becomes_502() {
    let bad = scripted(b"HTTP/1.1 200 OK\nContent-Length: 2\nX-Odd: 1\n\nhi".to_vec()).await;
    let (gw, up) = setup_bad(bad).await;
    let raw = "GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let got = exchange(gw.addr("web"), raw.as_bytes()).await;
    assert_eq!(statuses(&got), [502], "{got}");
    assert!(!got.contains("X-Odd") && !got.contains("hi\r"), "{got}");
    assert_healthy(&gw, &up).await;
}
