//! End-to-end basics: direct responses, 404, proxying with header rewriting,
//! request ids, client IP through trusted proxies, 502/504, retry.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

fn config(upstream: &str, extra: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
{extra}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
    timeouts: {{ connect: 1s, request: 2s }}
routes:
  - name: hello
    match: {{ path: {{ exact: /hello }} }}
    direct_response: {{ status: 201, headers: {{ x-demo: "1" }}, body: "hi\n" }}
  - name: app
    match: {{ path: {{ prefix: /app }} }}
    backend: app
"#
    )
}

#[tokio::test]
async fn direct_response_and_no_route() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let r = get(gw.addr("web"), "/hello").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body, "hi\n");
    assert_eq!(r.headers["x-demo"], "1");
    assert_eq!(r.headers["x-request-id"].len(), 32);

    let r = get(gw.addr("web"), "/nothing-here").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("request id: "), "{}", r.body);
    assert_eq!(up.count(), 0);

    let lines = gw.wait_access_lines(2);
    let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(v["status"], 404);
    assert_eq!(v["reason"], "no_route");
    assert_eq!(v["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn proxies_with_forwarding_headers_and_hop_by_hop_stripped() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let req = Request::get("/app/x?q=1")
        .header("host", "Example.COM")
        .header("connection", "x-secret")
        .header("x-secret", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic abc")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6")
        .header("x-request-id", "my-id-1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = send(gw.addr("web"), req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["x-upstream"], "u");
    assert_eq!(r.headers["x-request-id"], "my-id-1");
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    assert_eq!(seen[0].uri, "/app/x?q=1");
    assert_eq!(h["host"], "Example.COM");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "Example.COM");
    assert_eq!(h["x-request-id"], "my-id-1");
    for gone in ["x-secret", "keep-alive", "proxy-authorization", "forwarded"] {
        assert!(!h.contains_key(gone), "{gone} reached the upstream");
    }
}

#[tokio::test]
async fn trusted_proxy_chain_resolves_client_ip() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(
        &up.addr.to_string(),
        "server: { trusted_proxies: [127.0.0.1/32, 10.0.0.0/8] }",
    ));
    // The client claims 1.1.1.1; the trusted LB 10.0.0.5 saw 203.0.113.9.
    let req = Request::get("/app/ip")
        .header("host", "example.com")
        .header("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = send(gw.addr("web"), req).await;
    assert_eq!(r.status, 200);
    let h = &up.seen()[0].headers;
    assert_eq!(h["x-real-ip"], "203.0.113.9");
    assert_eq!(
        h["x-forwarded-for"],
        "1.1.1.1, 203.0.113.9, 10.0.0.5, 127.0.0.1"
    );
    let lines = gw.wait_access_lines(1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["client_ip"], "203.0.113.9");
    assert!(v["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_slow_one_is_504() {
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gw = Gateway::start(&config(&closed.to_string(), ""));
    let r = get(gw.addr("web"), "/app").await;
    assert_eq!(r.status, 502);
    assert!(r.body.contains("request id"));

    // An upstream that accepts but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let gw = Gateway::start(&config(&silent_addr.to_string(), ""));
    let r = get(gw.addr("web"), "/app").await;
    assert_eq!(r.status, 504);
    hold.abort();
}

#[tokio::test]
async fn malformed_upstream_response_is_502() {
    let bad = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = bad.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = bad.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
                )
                .await;
        }
    });
    let gw = Gateway::start(&config(&addr.to_string(), ""));
    let r = get(gw.addr("web"), "/app").await;
    assert_eq!(r.status, 502);
}

#[tokio::test]
async fn connect_failure_is_retried_on_another_endpoint() {
    let up = Upstream::start("good").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners: [{{ name: web, address: 127.0.0.1:0 }}]
backends:
  - name: app
    endpoints: [{{ address: "{closed}" }}, {{ address: "{}" }}]
    health: {{ consecutive_failures: 100 }}
routes:
  - name: app
    match: {{ path: {{ prefix: / }} }}
    backend: app
"#,
        up.addr
    );
    let gw = Gateway::start(&yaml);
    for _ in 0..6 {
        let r = get(gw.addr("web"), "/").await;
        assert_eq!(r.status, 200, "GET must be retried on the live endpoint");
    }
    // A POST with a body is not replayed: round robin sends some to the dead endpoint.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let req = Request::post("/")
            .header("host", "x")
            .body(Full::new(Bytes::from("data")))
            .unwrap();
        statuses.push(send(gw.addr("web"), req).await.status);
    }
    assert!(statuses.contains(&502), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

#[tokio::test]
async fn framing_refusals_are_logged() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let reply = raw(
        gw.addr("web"),
        b"POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert_eq!(up.count(), 0);
    let lines = gw.wait_access_lines(1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["status"], 400);
    assert_eq!(v["reason"], "cl_and_te");
}
