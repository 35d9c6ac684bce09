//! In-flight (concurrency) limits end to end with a slow upstream: exactly
//! `max` requests reach the backend at once, the queue is bounded, a queued
//! request that waits too long gets 503 + Retry-After, and a queued request
//! goes through when a place frees.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

/// An upstream that holds every request until `release` turns true, and
/// records how many it held at once.
struct SlowUpstream {
    addr: SocketAddr,
    current: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
}

async fn slow_upstream() -> SlowUpstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let current = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (release, release_rx) = watch::channel(false);
    let (c, p) = (Arc::clone(&current), Arc::clone(&peak));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (c, p, rx) = (Arc::clone(&c), Arc::clone(&p), release_rx.clone());
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let (c, p, mut rx) = (Arc::clone(&c), Arc::clone(&p), rx.clone());
                    async move {
                        let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                        p.fetch_max(now, Ordering::SeqCst);
                        let _ = rx.wait_for(|go| *go).await;
                        c.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("done"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    SlowUpstream {
        addr,
        current,
        peak,
        release,
    }
}

fn config(upstream: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: two-at-once
    inflight: {{ max: 2, queue: 1, queue_timeout: 300ms, retry_after: 2 }}
  - name: patient
    inflight: {{ max: 2, queue: 1, queue_timeout: 20s }}
backends:
  - name: slow
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: impatient
    match: {{ path: {{ prefix: /impatient }} }}
    policies: [two-at-once]
    backend: slow
  - name: patient
    match: {{ path: {{ prefix: /patient }} }}
    policies: [patient]
    backend: slow
"#
    )
}

fn get_req(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_max_reach_the_backend_and_the_queue_times_out() {
    let up = slow_upstream().await;
    let gw = Gateway::start(&config(up.addr));
    let addr = gw.addr("web");
    let spawn = |path: &'static str| tokio::spawn(async move { send(addr, get_req(path)).await });
    let holders = [spawn("/impatient/1"), spawn("/impatient/2")];
    let current = Arc::clone(&up.current);
    wait_until("two at the backend", || current.load(Ordering::SeqCst) == 2).await;
    // The third waits in the queue and times out; the fourth finds the queue full.
    let queued = spawn("/impatient/3");
    let full = send(addr, get_req("/impatient/4")).await;
    assert_eq!(full.status, 503);
    assert_eq!(full.headers["retry-after"], "2");
    let queued = queued.await.unwrap();
    assert_eq!(queued.status, 503);
    assert_eq!(up.peak.load(Ordering::SeqCst), 2);
    up.release.send(true).unwrap();
    for h in holders {
        assert_eq!(h.await.unwrap().status, 200);
    }
    let lines = gw.wait_access_lines(4);
    let limited = lines
        .iter()
        .filter(|l| l.contains("\"reason\":\"inflight_limited\""))
        .count();
    assert_eq!(limited, 2, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_request_goes_through_when_a_place_frees() {
    let up = slow_upstream().await;
    let gw = Gateway::start(&config(up.addr));
    let addr = gw.addr("web");
    let spawn = |path: &'static str| tokio::spawn(async move { send(addr, get_req(path)).await });
    let first = [spawn("/patient/1"), spawn("/patient/2")];
    let current = Arc::clone(&up.current);
    wait_until("two at the backend", || current.load(Ordering::SeqCst) == 2).await;
    let queued = spawn("/patient/3");
    // The queued one must not reach the backend while two are held.
    let log_lines = || gw.access_log().len();
    assert_eq!(log_lines(), 0);
    up.release.send(true).unwrap();
    for h in first {
        assert_eq!(h.await.unwrap().status, 200);
    }
    assert_eq!(queued.await.unwrap().status, 200);
    assert_eq!(up.peak.load(Ordering::SeqCst), 2);
}
