//! Anomaly detection against the real binary and a real upstream: steady
//! baseline traffic, then a flood from thousands of distinct 127.x.y.z
//! sources, then recovery. The route is in `enforce` mode with a tight
//! route-wide rate limit as its under-attack policy: the test asserts the
//! `anomaly_detected` alert, the switch (429s during the flood, recorded in
//! events, metrics and access records), the exit after recovery (no more
//! 429s), and prints the time from the flood's start to the alert and to
//! enforcement. Windows are 100 ms so the whole run takes a few seconds.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

const DEADLINE: Duration = Duration::from_secs(30);
/// Flood requests at most (each from its own source address).
const MAX_FLOOD: u32 = 40_000;

fn config(upstream: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
anomaly:
  tick: 100ms
  listeners:
    signals: [request_rate, new_clients]
    sustain: 300ms
    warmup: 0s
    floors: {{ request_rate: 100, new_clients: 50 }}
listeners:
  - {{ name: web, address: 127.0.0.1:0 }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
policies:
  - name: flood-limit
    rate_limit: {{ limits: [{{ rate: 20, per: 1s, burst: 5 }}], key: [route] }}
routes:
  - name: api
    backend: app
    anomaly:
      mode: enforce
      under_attack_policies: [flood-limit]
      signals: [request_rate, new_clients, error_ratio]
      sigmas: 4
      sustain: 300ms
      recover: 1s
      half_life: 5s
      warmup: 0s
      min_requests: 5
      floors: {{ request_rate: 100, new_clients: 50 }}
"#
    )
}

async fn get_from(source: &str, web: SocketAddr) -> u16 {
    let req = Request::get("/work")
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send_from(source, web, req).await.status
}

async fn scrape(admin: SocketAddr) -> common::prom::Exposition {
    let text = get(admin, "/metrics").await.body;
    common::prom::parse(&text).expect("well-formed /metrics")
}

/// The flood's 127.1.0.0/16 .. sources: the i-th request's address.
fn source(i: u32) -> String {
    format!(
        "127.{}.{}.{}",
        1 + (i >> 16) % 200,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_sources_alerts_and_switches_the_route_until_it_recovers() {
    let upstream = Upstream::start("app").await;
    let mut gw = Gateway::start(&config(upstream.addr));
    let web = gw.addr("web");
    let started = Instant::now();

    // Steady baseline: ~20 r/s from two regular clients (paced traffic,
    // not synchronisation).
    let stop_steady = Arc::new(AtomicBool::new(false));
    let steady_429 = Arc::new(AtomicU32::new(0));
    let steady = {
        let (stop, rejected) = (Arc::clone(&stop_steady), Arc::clone(&steady_429));
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(50));
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && n < 2_000 {
                pace.tick().await;
                let src = if n.is_multiple_of(2) {
                    "127.0.0.2"
                } else {
                    "127.0.0.3"
                };
                if get_from(src, web).await == 429 {
                    rejected.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        })
    };

    // The baseline has learnt the steady rate (poll the detector's gauge).
    loop {
        assert!(started.elapsed() < DEADLINE, "no baseline learnt");
        let m = scrape(gw.admin).await;
        let labels = [("route", "api"), ("signal", "request_rate")];
        if m.value("portcullis_anomaly_baseline", &labels) >= 10.0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        steady_429.load(Ordering::Relaxed),
        0,
        "no limit in normal mode"
    );

    // The flood: 48 concurrent clients, each request from a new address.
    let flood_start = Instant::now();
    let stop_flood = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(0));
    let first_429 = Arc::new(std::sync::Mutex::new(None::<Duration>));
    let mut flooders = Vec::new();
    for _ in 0..48 {
        let (stop, next, first) = (
            Arc::clone(&stop_flood),
            Arc::clone(&next),
            Arc::clone(&first_429),
        );
        flooders.push(tokio::spawn(async move {
            let mut rejected = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= MAX_FLOOD {
                    break;
                }
                if get_from(&source(i), web).await == 429 {
                    rejected += 1;
                    first.lock().unwrap().get_or_insert(flood_start.elapsed());
                }
            }
            rejected
        }));
    }

    // The route's alert (the listener's own may come first).
    let alert = loop {
        let line = gw.wait_log("\"action\":\"anomaly_detected\"");
        if line.contains("\"route\":\"api\"") {
            break line;
        }
    };
    let to_alert = flood_start.elapsed();
    println!("{alert}");
    let event: serde_json::Value = serde_json::from_str(&alert).expect("event is JSON");
    let a = &event["portcullis"]["anomaly"];
    assert!(a["observed"].as_f64() > a["baseline"].as_f64(), "{alert}");
    let entered = gw.find_or_wait_log("\"action\":\"under_attack_entered\"");
    assert!(entered.contains("flood-limit"), "{entered}");
    // Enforcement: flood requests start getting the under-attack 429.
    let to_enforce = loop {
        assert!(flood_start.elapsed() < DEADLINE, "no 429 during the flood");
        if let Some(t) = *first_429.lock().unwrap() {
            break t;
        }
        tokio::task::yield_now().await;
    };
    let m = scrape(gw.admin).await;
    assert_eq!(
        m.value("portcullis_anomaly_under_attack", &[("route", "api")]),
        1.0
    );
    assert!(m.value("portcullis_anomaly_alerts_total", &[("route", "api")]) >= 1.0);
    // The listener's own baseline (observe only) saw the flood too.
    assert!(m.value("portcullis_anomaly_alerts_total", &[("route", "")]) >= 1.0);
    assert_eq!(
        m.value("portcullis_anomaly_under_attack", &[("route", "")]),
        0.0
    );
    assert!(
        m.value(
            "portcullis_anomaly_active",
            &[("route", "api"), ("signal", "request_rate")]
        ) == 1.0
            || m.value(
                "portcullis_anomaly_active",
                &[("route", "api"), ("signal", "new_clients")]
            ) == 1.0
    );

    // Recovery: the flood stops; the steady traffic goes on.
    stop_flood.store(true, Ordering::Relaxed);
    let mut flood_429 = 0;
    for f in flooders {
        flood_429 += f.await.expect("flood task");
    }
    let flood_sent = next.load(Ordering::Relaxed).min(MAX_FLOOD);
    let flood_stop = Instant::now();
    gw.wait_log("\"action\":\"under_attack_exited\"");
    let to_exit = flood_stop.elapsed();
    let m = scrape(gw.admin).await;
    assert_eq!(
        m.value("portcullis_anomaly_under_attack", &[("route", "api")]),
        0.0
    );
    assert_eq!(
        m.value(
            "portcullis_anomaly_mode_switches_total",
            &[("route", "api"), ("direction", "exit")]
        ),
        1.0
    );
    // Normal mode again: a quick burst past the tight limit's burst of 5
    // passes (few enough not to look like a flood itself).
    let before = steady_429.load(Ordering::Relaxed);
    for _ in 0..15 {
        assert_eq!(get_from("127.0.0.4", web).await, 200, "limit still applied");
    }
    stop_steady.store(true, Ordering::Relaxed);
    steady.await.expect("steady task");
    let after = steady_429.load(Ordering::Relaxed);
    assert_eq!(after, before, "429 after the exit");

    // The access records of requests served under attack say so.
    let records = gw.access_log();
    let marked = records
        .iter()
        .filter(|l| l.contains("\"under_attack\":true"))
        .count();
    assert!(
        marked as u32 >= flood_429,
        "{marked} marked, {flood_429} refused"
    );
    let refused = records
        .iter()
        .find(|l| l.contains("\"under_attack\":true") && l.contains("\"status\":429"))
        .expect("a refused request served under attack");
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join("access-log.native.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema JSON");
    let record: serde_json::Value = serde_json::from_str(refused).expect("record JSON");
    let errors = common::schema::validate(&schema, &record);
    assert!(errors.is_empty(), "{errors:?}: {refused}");
    assert!(flood_429 > 0 && upstream.count() > 0);
    println!(
        "anomaly: flood of {flood_sent} requests from {flood_sent} sources; alert after {:.0} ms, enforcement (first 429) after {:.0} ms, exit {:.0} ms after the flood stopped; {flood_429} flood requests refused",
        to_alert.as_secs_f64() * 1000.0,
        to_enforce.as_secs_f64() * 1000.0,
        to_exit.as_secs_f64() * 1000.0,
    );
}
