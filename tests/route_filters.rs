//! Route filters end to end against a real upstream: request and response
//! header modifiers with request facts, redirects, host and path rewrites
//! (prefix, full, regex capture as ingress-nginx's `rewrite-target`).

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

fn yaml(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: headers
    match: {{ path: {{ prefix: /h }} }}
    backend: app
    request_headers:
      set:
        - {{ name: x-client, value: "${{client_ip}}" }}
        - {{ name: x-trace, value: "id=${{request_id}} host=${{host}} ${{method}} ${{scheme}}://${{path}}" }}
      add: [{{ name: x-tag, value: gateway }}]
      remove: [x-secret]
    response_headers:
      set: [{{ name: x-frame-options, value: DENY }}]
      remove: [x-upstream]
  - name: old
    match: {{ path: {{ prefix: /old }} }}
    redirect:
      scheme: https
      hostname: new.example
      path: {{ replace_prefix_match: /new }}
      status_code: 301
  - name: moved
    match: {{ path: {{ exact: /moved }} }}
    redirect: {{ path: {{ replace_full_path: /here }} }}
  - name: api
    match: {{ path: {{ prefix: /api/v1 }} }}
    backend: app
    rewrite:
      hostname: internal.svc
      path: {{ replace_prefix_match: /v2 }}
  - name: target
    match: {{ path: {{ regex: "/something(/|$)(.*)" }} }}
    backend: app
    rewrite:
      path: {{ regex: {{ pattern: "^/something(/|$)(.*)", substitution: "/$2" }} }}
  - name: full
    match: {{ path: {{ prefix: /full }} }}
    backend: app
    rewrite: {{ path: {{ replace_full_path: /index.html }} }}
  - name: teapot
    match: {{ path: {{ exact: /teapot }} }}
    direct_response: {{ status: 418 }}
    response_headers:
      add: [{{ name: x-served-by, value: "gateway ${{request_id}}" }}]
"#
    )
}

async fn request(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::get(path).header("host", "example.com:8080");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(addr, req.body(Full::new(Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn header_modifiers_use_request_facts() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start(&yaml(up.addr));
    let reply = request(
        gw.addr("web"),
        "/h/x?q=1",
        &[("x-secret", "s"), ("x-tag", "client")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(reply.headers["x-frame-options"], "DENY");
    assert!(
        !reply.headers.contains_key("x-upstream"),
        "removed from the response"
    );
    let seen = up.seen();
    let h = &seen[0].headers;
    assert_eq!(h["x-client"], "127.0.0.1");
    assert_eq!(
        h["x-trace"].to_str().unwrap(),
        format!("id={id} host=example.com GET http:///h/x")
    );
    let tags: Vec<_> = h
        .get_all("x-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["client", "gateway"]);
    assert!(!h.contains_key("x-secret"));

    let teapot = request(gw.addr("web"), "/teapot", &[]).await;
    assert_eq!(teapot.status, 418);
    let id = teapot.headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        teapot.headers["x-served-by"].to_str().unwrap(),
        format!("gateway {id}")
    );
}

#[tokio::test]
async fn redirects() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start(&yaml(up.addr));
    let reply = request(gw.addr("web"), "/old/page?x=1", &[]).await;
    assert_eq!(reply.status, 301);
    assert_eq!(
        reply.headers["location"],
        "https://new.example/new/page?x=1"
    );
    let reply = request(gw.addr("web"), "/moved", &[]).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.headers["location"], "http://example.com:8080/here");
    assert_eq!(up.count(), 0, "a redirect never reaches the backend");
}

#[tokio::test]
async fn rewrites() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start(&yaml(up.addr));
    for path in [
        "/api/v1/users/7?a=b",
        "/something/new/x",
        "/something",
        "/full/deep/x?y=1",
    ] {
        assert_eq!(
            request(gw.addr("web"), path, &[]).await.status,
            200,
            "{path}"
        );
    }
    let seen = up.seen();
    let uris: Vec<_> = seen.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(uris, ["/v2/users/7?a=b", "/new/x", "/", "/index.html?y=1"]);
    assert_eq!(seen[0].headers["host"], "internal.svc");
    assert_eq!(seen[0].headers["x-forwarded-host"], "example.com:8080");
    assert_eq!(seen[1].headers["host"], "example.com:8080");
}

/// An upstream that accepts connections and never answers.
async fn silent_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// Per-route body limit and timeouts override the listener's and the
/// backend's.
#[tokio::test]
async fn per_route_body_limit_and_timeouts() {
    let up = Upstream::start("up").await;
    let hang = silent_upstream().await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{}" }}]
  - name: hang
    endpoints: [{{ address: "{hang}" }}]
    timeouts: {{ request: 30s }}
    health: {{ consecutive_failures: 1000 }}
routes:
  - name: small
    match: {{ path: {{ prefix: /small }} }}
    backend: app
    max_body_bytes: 10
  - name: attempt
    match: {{ path: {{ prefix: /attempt }} }}
    backend: hang
    timeouts: {{ backend_request: 300ms }}
  - name: total
    match: {{ path: {{ prefix: /total }} }}
    backend: hang
    timeouts: {{ request: 300ms }}
  - name: rest
    backend: app
"#,
        up.addr
    );
    let gw = Gateway::start(&yaml);
    let post = |path: &str, len: usize| {
        Request::post(path)
            .header("host", "x")
            .body(Full::new(Bytes::from(vec![b'a'; len])))
            .unwrap()
    };
    assert_eq!(send(gw.addr("web"), post("/small", 100)).await.status, 413);
    assert_eq!(send(gw.addr("web"), post("/small", 10)).await.status, 200);
    assert_eq!(send(gw.addr("web"), post("/other", 100)).await.status, 200);
    for path in ["/attempt", "/total"] {
        let started = std::time::Instant::now();
        let reply = get(gw.addr("web"), path).await;
        assert_eq!(reply.status, 504, "{path}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{path}: the route's timeout applied"
        );
    }
}

/// A 90/10 split, a weight-0 backend that gets nothing, and a canary
/// chosen by header or cookie whatever the weights.
#[tokio::test]
async fn weighted_backends_and_canary() {
    let stable = Upstream::start("stable").await;
    let next = Upstream::start("next").await;
    let idle = Upstream::start("idle").await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
server: {{ access_log: false }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - {{ name: stable, endpoints: [{{ address: "{}" }}] }}
  - {{ name: next, endpoints: [{{ address: "{}" }}] }}
  - {{ name: idle, endpoints: [{{ address: "{}" }}] }}
routes:
  - name: split
    backends:
      - {{ name: stable, weight: 90 }}
      - {{ name: next, weight: 10 }}
      - {{ name: idle, weight: 0 }}
    canary:
      backend: idle
      header: {{ name: x-canary, value: "yes" }}
      cookie: {{ name: canary }}
"#,
        stable.addr, next.addr, idle.addr
    );
    let gw = Gateway::start(&yaml);
    for _ in 0..200 {
        assert_eq!(get(gw.addr("web"), "/s").await.status, 200);
    }
    let (s, n) = (stable.count(), next.count());
    assert_eq!(s + n, 200);
    assert_eq!(idle.count(), 0, "weight 0 gets nothing");
    // 10 % of 200 is 20 (sd ~4): far outside these bounds means no split.
    assert!((3..=50).contains(&n), "stable {s}, next {n}");
    let canary = request(gw.addr("web"), "/c", &[("x-canary", "yes")]).await;
    assert_eq!(canary.headers["x-upstream"], "idle");
    let cookie = request(gw.addr("web"), "/c", &[("cookie", "a=b; canary=always")]).await;
    assert_eq!(cookie.headers["x-upstream"], "idle");
    let not = request(
        gw.addr("web"),
        "/c",
        &[("x-canary", "no"), ("cookie", "canary=never")],
    )
    .await;
    assert_ne!(not.headers["x-upstream"], "idle");
}
