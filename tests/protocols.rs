//! Protocols through the gateway: WebSocket tunnels, h2c clients in front of
//! HTTP/1.1 upstreams, and refused upgrades.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{Gateway, Upstream, WAIT, collect, h2_client};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

fn config(upstream: SocketAddr) -> String {
    format!(
        "admin: {{address: 127.0.0.1:0}}\n\
         listeners:\n  - name: web\n    address: 127.0.0.1:0\n\
         backends:\n  - name: app\n    endpoints: [{{address: \"{upstream}\"}}]\n\
         routes:\n  - name: all\n    match:\n      path: {{prefix: /}}\n    backend: app\n"
    )
}

/// A WebSocket server that echoes text and binary messages.
async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let echo = match msg {
                        Message::Text(_) | Message::Binary(_) => msg,
                        Message::Close(_) => return,
                        _ => continue,
                    };
                    if ws.send(echo).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_the_gateway() {
    let upstream = echo_upstream().await;
    let gw = Gateway::start(&config(upstream));
    let stream = TcpStream::connect(gw.addr("web")).await.expect("connect");
    let (mut ws, resp) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async("ws://example.com/ws", stream),
    )
    .await
    .expect("handshake in time")
    .expect("websocket handshake");
    assert_eq!(resp.status(), 101);

    let mut sent = Vec::new();
    for i in 0..5u8 {
        sent.push(Message::text(format!("hello {i}")));
        sent.push(Message::binary(vec![i; 1000 * (i as usize + 1)]));
    }
    for msg in &sent {
        ws.send(msg.clone()).await.expect("send");
    }
    for msg in &sent {
        let echoed = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("echo in time")
            .expect("stream open")
            .expect("message");
        assert_eq!(&echoed, msg);
    }
    ws.close(None).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_client_to_http1_upstream() {
    const REQUESTS: usize = 16;
    let up = Upstream::start("one").await;
    let gw = Gateway::start(&config(up.addr));
    let sender = h2_client(gw.addr("web")).await;

    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let req = Request::get(format!("http://example.com/h2/{i}?q={i}"))
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let resp = tokio::time::timeout(WAIT, sender.send_request(req))
                    .await
                    .expect("in time")
                    .expect("h2 request");
                assert_eq!(resp.version(), http::Version::HTTP_2);
                (i, collect(resp).await)
            })
        })
        .collect();
    for task in tasks {
        let (i, reply) = task.await.expect("join");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.headers.get("x-upstream").unwrap(), "one");
        let summary: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
        assert_eq!(summary["uri"], format!("/h2/{i}?q={i}"));
    }

    let seen = up.seen();
    assert_eq!(seen.len(), REQUESTS);
    for s in &seen {
        assert_eq!(s.version, http::Version::HTTP_11, "{s:?}");
        assert_eq!(s.headers.get("host").unwrap(), "example.com", "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upgrade_closes_the_client_connection() {
    // This upstream answers 200 to everything, upgrades included.
    let up = Upstream::start("plain").await;
    let gw = Gateway::start(&config(up.addr));
    let mut stream = TcpStream::connect(gw.addr("web")).await.expect("connect");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("write");
    let mut out = Vec::new();
    // read_to_end only returns once the gateway closes the connection.
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the gateway closed the connection")
        .expect("read");
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.contains("\"upstream\":\"plain\""), "{text}");
    assert!(!text.contains("upgrade: websocket"), "{text}");
    assert_eq!(up.count(), 1);
}
