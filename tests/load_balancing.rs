//! End-to-end load balancing through the real binary: smooth weighted round
//! robin, least request against a held upstream, consistent hashing on the
//! client IP and on a header, and passive health ejection and recovery.

mod common;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A config with one backend `app` (`lb` and `extra` are YAML lines of the
/// backend) behind a catch-all route.
fn config(endpoints: &[(SocketAddr, u32)], lb: &str, extra: &str) -> String {
    let eps: Vec<String> = endpoints
        .iter()
        .map(|(a, w)| format!("{{ address: \"{a}\", weight: {w} }}"))
        .collect();
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    load_balancing: {lb}
    endpoints: [{eps}]
    timeouts: {{ connect: 1s, request: 5s }}
{extra}
routes:
  - name: app
    backend: app
"#,
        eps = eps.join(", ")
    )
}

fn req(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A keep-alive HTTP/1.1 connection to the gateway.
async fn conn(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, c) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(c);
    sender
}

async fn upstream_of(sender: &mut SendRequest<Full<Bytes>>, r: Request<Full<Bytes>>) -> String {
    sender.ready().await.unwrap();
    let resp = tokio::time::timeout(WAIT, sender.send_request(r))
        .await
        .expect("timeout")
        .expect("request");
    let reply = collect(resp).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.headers["x-upstream"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn round_robin_weights_are_exact() {
    let ups = [
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
        Upstream::start("d").await,
    ];
    let weights = [3, 1, 2, 2];
    let eps: Vec<_> = ups.iter().map(|u| u.addr).zip(weights).collect();
    let gw = Gateway::start(&config(&eps, "round_robin", ""));
    let mut c = conn(gw.addr("web")).await;
    let mut order = Vec::new();
    for _ in 0..400 {
        order.push(upstream_of(&mut c, req("/rr")).await);
    }
    // One client, sequential: every cycle of 8 picks has exactly the weights.
    for cycle in order.chunks(8) {
        let per = ["a", "b", "c", "d"].map(|n| cycle.iter().filter(|u| *u == n).count());
        assert_eq!(per, [3, 1, 2, 2], "{cycle:?}");
    }
    let counts: Vec<usize> = ups.iter().map(Upstream::count).collect();
    assert_eq!(counts, [150, 50, 100, 100]);

    // Two endpoints, weights 3:1: exactly 300 and 100 of 400.
    let (x, y) = (Upstream::start("x").await, Upstream::start("y").await);
    let gw = Gateway::start(&config(&[(x.addr, 3), (y.addr, 1)], "round_robin", ""));
    let mut c = conn(gw.addr("web")).await;
    for _ in 0..400 {
        upstream_of(&mut c, req("/rr")).await;
    }
    assert_eq!((x.count(), y.count()), (300, 100));
}

/// An upstream that records arrivals and answers only once `release` is true.
async fn held_upstream(
    name: &'static str,
    release: watch::Receiver<bool>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&arrived);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (arrived, release) = (Arc::clone(&counter), release.clone());
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<Incoming>| {
                    let mut release = release.clone();
                    arrived.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let _ = release.wait_for(|go| *go).await;
                        let mut resp = Response::new(Full::new(Bytes::from_static(b"slow")));
                        resp.headers_mut()
                            .insert("x-upstream", name.parse().unwrap());
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, arrived)
}

/// Polls `cond` every few milliseconds until it holds or `WAIT` passes.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn least_request_avoids_the_endpoint_holding_requests() {
    let (release_tx, release_rx) = watch::channel(false);
    let (slow_addr, slow) = held_upstream("slow", release_rx).await;
    let fast = Upstream::start("fast").await;
    let gw = Gateway::start(&config(
        &[(slow_addr, 1), (fast.addr, 1)],
        "least_request",
        "",
    ));
    let addr = gw.addr("web");
    let done = Arc::new(AtomicUsize::new(0));
    let mut held = Vec::new();
    let launch = |held: &mut Vec<_>| {
        let done = Arc::clone(&done);
        held.push(tokio::spawn(async move {
            let r = get(addr, "/lr").await;
            done.fetch_add(1, Ordering::SeqCst);
            r
        }));
    };
    // Until the slow endpoint holds one request (a 0:0 tie is a coin flip),
    // one request at a time, each placed before the next starts.
    for _ in 0..64 {
        if slow.load(Ordering::SeqCst) == 1 {
            break;
        }
        launch(&mut held);
        let n = held.len();
        until("placement", || {
            fast.count() + slow.load(Ordering::SeqCst) == n
                && done.load(Ordering::SeqCst) + slow.load(Ordering::SeqCst) == n
        })
        .await;
    }
    assert_eq!(slow.load(Ordering::SeqCst), 1, "slow endpoint never picked");

    // Now waves of 4 concurrent requests: the slow endpoint only wins a pick
    // while its in-flight count does not exceed the fast one's (at most 3,
    // plus racing picks), so it soon stops receiving any.
    let before = held.len();
    for _ in 0..10 {
        for _ in 0..4 {
            launch(&mut held);
        }
        let n = held.len();
        until("wave placement", || {
            let s = slow.load(Ordering::SeqCst);
            fast.count() + s == n && done.load(Ordering::SeqCst) + s == n
        })
        .await;
    }
    let slow_in_waves = slow.load(Ordering::SeqCst) - 1;
    let fast_in_waves = held.len() - before - slow_in_waves;
    assert!(
        slow_in_waves <= 8 && fast_in_waves >= 32,
        "slow {slow_in_waves}, fast {fast_in_waves} of 40"
    );
    assert_eq!(
        done.load(Ordering::SeqCst),
        held.len() - slow.load(Ordering::SeqCst)
    );

    // Released, the held requests complete normally.
    release_tx.send(true).unwrap();
    let mut from_slow = 0;
    for h in held {
        let r = h.await.unwrap();
        assert_eq!(r.status, 200);
        from_slow += usize::from(r.headers["x-upstream"] == "slow");
    }
    assert_eq!(from_slow, slow.load(Ordering::SeqCst));
}

#[tokio::test]
async fn consistent_hash_on_client_ip_is_sticky_and_spreads() {
    let ups = [
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    ];
    let eps: Vec<_> = ups.iter().map(|u| (u.addr, 1)).collect();
    let gw = Gateway::start(&config(&eps, "{ consistent_hash: client_ip }", ""));
    let addr = gw.addr("web");
    let mut owner: HashMap<String, String> = HashMap::new();
    for round in 0..5 {
        for k in 1..=8 {
            let source = format!("127.0.0.{k}");
            let r = send_from(&source, addr, req("/ch")).await;
            assert_eq!(r.status, 200);
            let up = r.headers["x-upstream"].to_str().unwrap().to_string();
            let first = owner.entry(source.clone()).or_insert_with(|| up.clone());
            assert_eq!(*first, up, "{source} moved in round {round}");
        }
    }
    let used: HashSet<&String> = owner.values().collect();
    assert!(used.len() > 1, "all clients on one endpoint: {owner:?}");
    assert_eq!(ups.iter().map(Upstream::count).sum::<usize>(), 40);
}

#[tokio::test]
async fn consistent_hash_on_header_is_sticky_and_spreads() {
    let ups = [
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    ];
    let eps: Vec<_> = ups.iter().map(|u| (u.addr, 1)).collect();
    let gw = Gateway::start(&config(&eps, "{ consistent_hash: { header: x-user } }", ""));
    let mut c = conn(gw.addr("web")).await;
    let mut owner: HashMap<String, String> = HashMap::new();
    for _ in 0..3 {
        for user in 0..60 {
            let r = Request::get("/ch")
                .header("host", "example.com")
                .header("x-user", format!("user-{user}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            let up = upstream_of(&mut c, r).await;
            let first = owner.entry(format!("user-{user}")).or_insert(up.clone());
            assert_eq!(*first, up, "user-{user} moved");
        }
    }
    let mut per: HashMap<&String, usize> = HashMap::new();
    for up in owner.values() {
        *per.entry(up).or_default() += 1;
    }
    // 60 keys on a ring of three: every endpoint owns some.
    assert_eq!(per.len(), 3, "{per:?}");
    assert!(per.values().all(|&n| n >= 5), "{per:?}");
}

#[tokio::test]
async fn closed_endpoint_is_ejected_then_tried_again() {
    let good = Upstream::start("good").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let health = "    retry_on_connect_failure: false
    health: { consecutive_failures: 2, base_ejection: 1s, max_ejection: 1s }";
    let gw = Gateway::start(&config(
        &[(good.addr, 1), (closed, 1)],
        "round_robin",
        health,
    ));
    let addr = gw.addr("web");
    let mut sent_total = 0usize;
    // Round robin alternates: two 502s within four requests eject `closed`.
    let mut failures = 0;
    let mut ejecting_sent = None;
    for _ in 0..4 {
        let sent = Instant::now();
        let r = get(addr, "/h").await;
        sent_total += 1;
        if r.status == 502 {
            failures += 1;
            if failures == 2 {
                ejecting_sent = Some(sent);
                break;
            }
        } else {
            assert_eq!(r.status, 200);
        }
    }
    let ejected_at = ejecting_sent.expect("two 502s");
    // While ejected every request reaches the good endpoint.
    let before = good.count();
    let mut during = 0;
    while ejected_at.elapsed() < Duration::from_millis(500) {
        let r = get(addr, "/h").await;
        sent_total += 1;
        assert_eq!(r.status, 200, "ejected endpoint got traffic");
        during += 1;
    }
    assert!(during >= 3, "only {during} requests during the ejection");
    assert_eq!(good.count() - before, during);
    // After the period it is tried again: a 502 comes back.
    let deadline = Instant::now() + WAIT;
    loop {
        let r = get(addr, "/h").await;
        sent_total += 1;
        if r.status == 502 {
            break;
        }
        assert!(Instant::now() < deadline, "ejected endpoint never retried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let back = ejected_at.elapsed();
    assert!(back >= Duration::from_millis(950), "back after {back:?}");
    // The writer thread may lag the responses: wait for every record.
    let lines = gw.wait_access_lines(sent_total);
    let last: serde_json::Value = serde_json::from_str(&lines[sent_total - 1]).unwrap();
    assert_eq!(last["upstream"], closed.to_string());
    assert_eq!(last["reason"], "connect_failed");

    // With the default retry, clients never see the closed endpoint at all.
    let gw = Gateway::start(&config(&[(good.addr, 1), (closed, 1)], "round_robin", ""));
    for _ in 0..10 {
        assert_eq!(get(gw.addr("web"), "/h").await.status, 200);
    }
}

#[tokio::test]
async fn failing_endpoint_recovers_after_ejection() {
    let good = Upstream::start("good").await;
    let failing = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&failing);
    let flaky = Upstream::start_with("flaky", move |_| {
        flag.load(Ordering::SeqCst).then(|| {
            let mut r = Response::new(Full::new(Bytes::from_static(b"down")));
            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            r
        })
    })
    .await;
    let health = "    health: { consecutive_failures: 3, base_ejection: 1s }";
    let gw = Gateway::start(&config(
        &[(good.addr, 1), (flaky.addr, 1)],
        "round_robin",
        health,
    ));
    let mut c = conn(gw.addr("web")).await;
    let mut ejected_at = None;
    for _ in 0..8 {
        let sent = Instant::now();
        c.ready().await.unwrap();
        let r = collect(c.send_request(req("/f")).await.unwrap()).await;
        if r.status == 503 && flaky.count() == 3 {
            ejected_at = Some(sent);
            break;
        }
    }
    let ejected_at = ejected_at.expect("three 503s");
    while ejected_at.elapsed() < Duration::from_millis(500) {
        assert_eq!(upstream_of(&mut c, req("/f")).await, "good");
    }
    assert_eq!(flaky.count(), 3, "ejected endpoint got traffic");
    // It recovers; once the ejection is over it serves again.
    failing.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + WAIT;
    while upstream_of(&mut c, req("/f")).await != "flaky" {
        assert!(Instant::now() < deadline, "flaky never came back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let back = ejected_at.elapsed();
    assert!(back >= Duration::from_millis(950), "back after {back:?}");
    // Healthy again: it gets its round-robin share.
    let mut flaky_share = 0;
    for _ in 0..20 {
        flaky_share += usize::from(upstream_of(&mut c, req("/f")).await == "flaky");
    }
    assert_eq!(flaky_share, 10);
}
