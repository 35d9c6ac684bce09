//! Route retries against real failing upstreams: 503s retried for
//! idempotent methods only, connect failures retried for any method,
//! per-try timeouts, and the retry budget keeping a failing backend's load
//! near its normal load; the retry metric.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// An upstream that answers 503 to the first `failures` requests of each
/// path starting with `/flaky`, and 503 always to `/always`.
async fn failing_upstream(failures: usize) -> Upstream {
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    Upstream::start_with("failing", move |seen| {
        let path = seen.uri.split('?').next().unwrap_or("").to_owned();
        let n = {
            let mut counts = counts.lock().unwrap();
            let n = counts.entry(path.clone()).or_default();
            *n += 1;
            *n
        };
        let fail = path == "/always" || (path.starts_with("/flaky") && n <= failures);
        fail.then(|| {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"unavailable")));
            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            r
        })
    })
    .await
}

/// An upstream whose first request to any path takes 2 s to answer.
async fn slow_first_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == 0 {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(format!(
                            "answer {n}"
                        )))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, count)
}

async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

fn yaml(failing: SocketAddr, dead: SocketAddr, slow: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: failing
    endpoints: [{{ address: "{failing}" }}]
  - name: pair
    retry_on_connect_failure: false
    endpoints: [{{ address: "{dead}" }}, {{ address: "{failing}" }}]
  - name: slow
    endpoints: [{{ address: "{slow}" }}]
routes:
  - name: flaky
    match: {{ path: {{ prefix: /flaky }} }}
    backend: failing
    retries:
      attempts: 2
      codes: [503]
      budget: {{ percent: 100, min_per_second: 10 }}
  - name: always
    match: {{ path: {{ exact: /always }} }}
    backend: failing
    retries:
      attempts: 3
      budget: {{ percent: 20, min_per_second: 0 }}
  - name: pair
    match: {{ path: {{ prefix: /pair }} }}
    backend: pair
    retries: {{ attempts: 1, codes: [], budget: {{ percent: 100 }} }}
  - name: slow
    match: {{ path: {{ prefix: /slow }} }}
    backend: slow
    retries: {{ per_try_timeout: 300ms, codes: [504] }}
"#
    )
}

fn post(path: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

async fn metric(gw: &Gateway, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = get(gw.admin, "/metrics").await.body;
    let exposition = prom::parse(&text).expect("metrics parse");
    exposition.value(name, labels)
}

#[tokio::test]
async fn retries_follow_their_conditions() {
    let failing = failing_upstream(2).await;
    let dead = dead_address().await;
    let (slow, slow_count) = slow_first_upstream().await;
    let gw = Gateway::start(&yaml(failing.addr, dead, slow));
    let web = gw.addr("web");

    // Two 503s, then 200: the client sees only the 200.
    let reply = get(web, "/flaky/get").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tries = |path: &str| failing.seen().iter().filter(|s| s.uri == path).count();
    assert_eq!(tries("/flaky/get"), 3);

    // POST is not idempotent: its 503 is the answer, sent once.
    let reply = send(web, post("/flaky/post", b"order=1")).await;
    assert_eq!(reply.status, 503);
    assert_eq!(tries("/flaky/post"), 1);

    // A connect failure is retried for any method (the endpoint never saw
    // the request) when the body can be replayed: a POST with no body.
    for _ in 0..4 {
        let reply = send(web, post("/pair", b"")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // A streamed body is never sent twice: a connect failure is the answer.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(send(web, post("/pair", b"streamed body")).await.status);
    }
    assert!(statuses.contains(&502), "{statuses:?}");
    assert_eq!(
        tries("/pair"),
        4 + statuses.iter().filter(|s| **s == 200).count()
    );

    // The first attempt outlives the per-try timeout (counted as a 504)
    // and the retry answers.
    let started = Instant::now();
    let reply = get(web, "/slow").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "answer 1");
    assert!(started.elapsed() < Duration::from_millis(1800));
    assert_eq!(slow_count.load(Ordering::SeqCst), 2);

    let retried = metric(
        &gw,
        "portcullis_upstream_retries_total",
        &[("route", "flaky"), ("outcome", "retried")],
    )
    .await;
    assert_eq!(retried, 2.0);
    let retried = metric(
        &gw,
        "portcullis_upstream_retries_total",
        &[("route", "slow"), ("outcome", "retried")],
    )
    .await;
    assert_eq!(retried, 1.0);
}

#[tokio::test]
async fn the_budget_keeps_retries_from_multiplying_load() {
    let failing = failing_upstream(0).await;
    let dead = dead_address().await;
    let (slow, _) = slow_first_upstream().await;
    let gw = Gateway::start(&yaml(failing.addr, dead, slow));
    let web = gw.addr("web");

    // Every answer is 503. With 3 attempts and no budget the backend would
    // see 4 requests for each; the 20 % budget allows about 1.2.
    let requests = 50;
    for _ in 0..requests {
        assert_eq!(get(web, "/always").await.status, 503);
    }
    let seen = failing.seen().iter().filter(|s| s.uri == "/always").count();
    assert!(seen > requests, "some retries were made: {seen}");
    assert!(
        seen <= requests + requests / 5 + 1,
        "{seen} upstream requests for {requests}"
    );
    let retried = metric(
        &gw,
        "portcullis_upstream_retries_total",
        &[("route", "always"), ("outcome", "retried")],
    )
    .await;
    assert_eq!(retried as usize, seen - requests);
    let refused = metric(
        &gw,
        "portcullis_upstream_retries_total",
        &[("route", "always"), ("outcome", "budget_exhausted")],
    )
    .await;
    assert!(refused >= 30.0, "budget refusals: {refused}");
}
