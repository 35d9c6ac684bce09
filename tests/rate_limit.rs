//! End-to-end rate limiting against the real binary: accuracy under 4×
//! overload, client isolation, response headers and the access-log reason,
//! delay mode, dry-run, a limiter shared by two routes, missing header key,
//! and state surviving a reload.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

const BASE: &str = r#"
admin: { address: 127.0.0.1:0 }
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: per-client
    rate_limit:
      limits: [{ rate: 1, per: 1m, burst: 3 }]
  - name: shared
    rate_limit:
      limits: [{ rate: 1, per: 1m, burst: 2 }]
  - name: accuracy
    rate_limit:
      limits: [{ rate: 50, per: 1s, burst: 10 }]
      key: [host]
  - name: slow-down
    rate_limit:
      limits: [{ rate: 5, per: 1s, burst: 1 }]
      action: delay
      max_delay: 300ms
  - name: observe
    rate_limit:
      limits: [{ rate: 1, per: 1m, burst: 1 }]
      dry_run: true
  - name: by-key
    rate_limit:
      limits: [{ rate: 1, per: 1m, burst: 1 }]
      key: [{ header: x-api-key }]
      missing_key: reject
      status: 401
routes:
  - name: per-client
    match: { path: { prefix: /per-client } }
    policies: [per-client]
    direct_response: { body: ok }
  - name: shared-a
    match: { path: { prefix: /shared-a } }
    policies: [shared]
    direct_response: { body: ok }
  - name: shared-b
    match: { path: { prefix: /shared-b } }
    policies: [shared]
    direct_response: { body: ok }
  - name: accuracy
    match: { path: { prefix: /accuracy } }
    policies: [accuracy]
    direct_response: { body: ok }
  - name: slow-down
    match: { path: { prefix: /slow-down } }
    policies: [slow-down]
    direct_response: { body: ok }
  - name: observe
    match: { path: { prefix: /observe } }
    policies: [observe]
    direct_response: { body: ok }
  - name: by-key
    match: { path: { prefix: /by-key } }
    policies: [by-key]
    direct_response: { body: ok }
"#;

fn req(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn status_from(source: &str, addr: SocketAddr, path: &str) -> u16 {
    send_from(source, addr, req(path)).await.status
}

#[tokio::test]
async fn clients_are_isolated_and_429_carries_headers_and_reason() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    for _ in 0..3 {
        assert_eq!(status_from("127.0.0.2", addr, "/per-client").await, 200);
    }
    let reply = send_from("127.0.0.2", addr, req("/per-client")).await;
    assert_eq!(reply.status, 429);
    assert!(
        reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(reply.headers["ratelimit-policy"], "\"per-client\";q=1;w=60");
    assert!(reply.headers.contains_key("ratelimit"));
    // Another client keeps its whole allowance.
    for _ in 0..3 {
        assert_eq!(status_from("127.0.0.3", addr, "/per-client").await, 200);
    }
    let lines = gw.wait_access_lines(7);
    let denied: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["status"] == 429)
        .collect();
    assert_eq!(denied.len(), 1, "{lines:?}");
    assert_eq!(denied[0]["reason"], "rate_limited");
    assert_eq!(denied[0]["policy"], "per-client");
    assert_eq!(denied[0]["client_ip"], "127.0.0.2");
}

#[tokio::test]
async fn a_policy_on_two_routes_is_one_limit() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    assert_eq!(status_from("127.0.0.4", addr, "/shared-a").await, 200);
    assert_eq!(status_from("127.0.0.4", addr, "/shared-b").await, 200);
    assert_eq!(status_from("127.0.0.4", addr, "/shared-a").await, 429);
    assert_eq!(status_from("127.0.0.4", addr, "/shared-b").await, 429);
}

#[tokio::test]
async fn header_key_with_missing_key_rejected() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    let with_key = |k: &'static str| {
        Request::get("/by-key")
            .header("host", "example.com")
            .header("x-api-key", k)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(send(addr, with_key("a")).await.status, 200);
    assert_eq!(send(addr, with_key("a")).await.status, 401);
    assert_eq!(send(addr, with_key("b")).await.status, 200);
    assert_eq!(send(addr, req("/by-key")).await.status, 401);
    let lines = gw.wait_access_lines(4);
    assert!(
        lines.iter().any(|l| l.contains("rate_limit_key_missing")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn dry_run_logs_but_never_rejects() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    for _ in 0..3 {
        assert_eq!(status_from("127.0.0.5", addr, "/observe").await, 200);
    }
    let lines = gw.wait_access_lines(3);
    let flagged = lines
        .iter()
        .filter(|l| l.contains("\"reason\":\"rate_limited_dry_run\""))
        .count();
    assert_eq!(flagged, 2, "{lines:?}");
}

#[tokio::test]
async fn delay_mode_delays_then_rejects_past_max_delay() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    let start = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                let status = status_from("127.0.0.6", addr, "/slow-down").await;
                (status, start.elapsed())
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results.sort_by_key(|(_, took)| *took);
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    // One at once, one held ~200 ms (interval 200 ms, burst 1), one over
    // max_delay (it would need ~400 ms) and rejected at once.
    assert_eq!(sorted, [200, 200, 429], "{results:?}");
    let delayed = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, t)| *t)
        .max();
    let delayed = delayed.unwrap_or_default();
    assert!(delayed >= Duration::from_millis(150), "{results:?}");
    assert!(delayed < Duration::from_secs(2), "{results:?}");
}

#[tokio::test]
async fn reload_keeps_state_of_unchanged_policy() {
    let mut gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    for _ in 0..3 {
        assert_eq!(status_from("127.0.0.7", addr, "/per-client").await, 200);
    }
    assert_eq!(status_from("127.0.0.7", addr, "/per-client").await, 429);
    // An unrelated change: the limiter carries over.
    let changed = BASE.replace(
        "body: ok }\n  - name: shared-a",
        "body: ok2 }\n  - name: shared-a",
    );
    assert!(gw.reload(&changed).contains("config reloaded"));
    assert_eq!(status_from("127.0.0.7", addr, "/per-client").await, 429);
    // Changing the policy itself starts it afresh.
    let retuned = changed.replace("burst: 3", "burst: 4");
    assert!(gw.reload(&retuned).contains("config reloaded"));
    assert_eq!(status_from("127.0.0.7", addr, "/per-client").await, 200);
}

/// 4× the limit (200 req/s against 50/s, burst 10) from four keep-alive
/// connections for 3 s: accepted = burst + rate × elapsed within ±2%.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accuracy_under_four_times_overload() {
    let gw = Gateway::start(BASE);
    let addr = gw.addr("web");
    let run = Duration::from_secs(3);
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(async move {
                let stream = connect_from(&format!("127.0.0.{}", 10 + i), addr).await;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                // Pace 50 req/s per connection (200 in total).
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let (mut ok, mut last_ok) = (0u64, start.elapsed());
                while start.elapsed() < run {
                    tick.tick().await;
                    let resp = sender.send_request(req("/accuracy")).await.unwrap();
                    let status = collect(resp).await.status;
                    if status == 200 {
                        ok += 1;
                        last_ok = start.elapsed();
                    }
                }
                (ok, last_ok)
            })
        })
        .collect();
    let (mut accepted, mut elapsed) = (0u64, Duration::ZERO);
    for t in tasks {
        let (ok, last) = t.await.unwrap();
        accepted += ok;
        elapsed = elapsed.max(last);
    }
    let expected = 10.0 + 50.0 * elapsed.as_secs_f64();
    let error = (accepted as f64 - expected).abs() / expected;
    assert!(
        error <= 0.02,
        "accepted {accepted}, expected {expected:.1} over {elapsed:?}"
    );
}
