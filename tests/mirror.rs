//! Request mirroring with real upstreams: the copy reaches the mirror with
//! the primary's path, headers and (bounded) body; a mirror that hangs or
//! is down changes nothing for the client; copies past `max_in_flight` or
//! `max_body_bytes` are dropped and counted.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use tokio::net::TcpListener;

/// Accepts connections and never answers (holds them open).
async fn black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

fn yaml(primary: SocketAddr, shadow: SocketAddr, hole: SocketAddr, dead: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: primary
    endpoints: [{{ address: "{primary}" }}]
  - name: shadow
    endpoints: [{{ address: "{shadow}" }}]
  - name: hole
    endpoints: [{{ address: "{hole}" }}]
    timeouts: {{ request: 30s }}
  - name: dead
    endpoints: [{{ address: "{dead}" }}]
routes:
  - name: copied
    match: {{ path: {{ prefix: /copied }} }}
    backend: primary
    request_headers:
      set: [{{ name: x-route, value: copied }}]
    mirror: {{ backend: shadow, max_body_bytes: 64 }}
  - name: slow-mirror
    match: {{ path: {{ prefix: /hole }} }}
    backend: primary
    mirror: {{ backend: hole, max_in_flight: 2 }}
  - name: dead-mirror
    match: {{ path: {{ prefix: /dead }} }}
    backend: primary
    mirror: {{ backend: dead }}
"#
    )
}

fn post(path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn metric(gw: &Gateway, route: &str, outcome: &str) -> f64 {
    let text = get(gw.admin, "/metrics").await.body;
    prom::parse(&text).expect("metrics parse").value(
        "portcullis_mirror_requests_total",
        &[("route", route), ("outcome", outcome)],
    )
}

/// Waits until the metric reaches `want` (the copies run on their own).
async fn wait_metric(gw: &Gateway, route: &str, outcome: &str, want: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = metric(gw, route, outcome).await;
        if value >= want {
            assert_eq!(value, want, "{route} {outcome}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{route} {outcome}: {value} < {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn mirrored_copies_never_touch_the_answer() {
    let primary = Upstream::start("primary").await;
    let shadow = Upstream::start("shadow").await;
    let hole = black_hole().await;
    let dead = dead_address().await;
    let gw = Gateway::start(&yaml(primary.addr, shadow.addr, hole, dead));
    let web = gw.addr("web");

    // A GET and a streamed POST within the bound reach both, the same way.
    let reply = get(web, "/copied/a?q=1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-upstream"], "primary");
    let reply = send(web, post("/copied/b", b"hello mirror".to_vec())).await;
    assert_eq!(reply.status, 200);
    wait_metric(&gw, "copied", "sent", 2.0).await;
    let seen = shadow.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].uri, "/copied/a?q=1");
    assert_eq!(seen[0].headers["x-route"], "copied");
    assert_eq!(seen[1].uri, "/copied/b");
    assert_eq!(seen[1].body_len, 12);

    // A body over the mirror's bound: the primary gets it all, the copy
    // is dropped.
    let reply = send(web, post("/copied/big", vec![b'x'; 1000])).await;
    assert_eq!(reply.status, 200);
    assert!(
        primary
            .seen()
            .iter()
            .any(|s| s.uri == "/copied/big" && s.body_len == 1000)
    );
    wait_metric(&gw, "copied", "dropped_body", 1.0).await;
    assert!(!shadow.seen().iter().any(|s| s.uri == "/copied/big"));

    // A mirror that never answers: every client answer is immediate; two
    // copies hang (max_in_flight), the other three are dropped.
    for i in 0..5 {
        let started = Instant::now();
        let reply = get(web, &format!("/hole/{i}")).await;
        assert_eq!(reply.status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "answer {i} took {:?}",
            started.elapsed()
        );
    }
    wait_metric(&gw, "slow-mirror", "dropped_full", 3.0).await;
    assert_eq!(metric(&gw, "slow-mirror", "sent").await, 0.0);

    // A mirror that is down: the client never notices; the copy fails.
    let reply = get(web, "/dead").await;
    assert_eq!(reply.status, 200);
    wait_metric(&gw, "dead-mirror", "failed", 1.0).await;
}
