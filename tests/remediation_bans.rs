//! Automated remediation against the real binary: a client probing
//! distinct missing paths is banned on the very next request, on both
//! replicas sharing a real redis-server within a second; the ban is a
//! security event, listed and removable in the admin API; a repeat offence
//! escalates the TTL; allow-listed clients are never banned; dry_run only
//! logs.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::redis::{RedisServer, secret_file};
use common::*;
use http::Request;
use http_body_util::Full;

fn config(redis: &RedisServer, secret: &str, dry_run: bool) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
state:
  redis: {{ url: "{}", key_secret_file: "{secret}" }}
remediation:
  dry_run: {dry_run}
  allow: [127.0.0.9]
  defaults: false
  scenarios:
    - {{ name: probing, signal: distinct_client_errors, capacity: 3, leak: 10s, ban: [1h, 24h] }}
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: ok
    match: {{ path: {{ exact: /ok }} }}
    direct_response: {{ body: ok }}
"#,
        redis.url()
    )
}

async fn get_from(source: &str, web: SocketAddr, path: &str) -> u16 {
    let req = Request::get(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send_from(source, web, req).await.status
}

async fn probe(source: &str, web: SocketAddr, n: usize) {
    for i in 0..n {
        assert_eq!(get_from(source, web, &format!("/probe-{i}")).await, 404);
    }
}

/// Polls until `source` gets `status`; returns how long it took.
async fn until(source: &str, web: SocketAddr, status: u16) -> Duration {
    let started = Instant::now();
    while get_from(source, web, "/ok").await != status {
        assert!(started.elapsed() < WAIT, "{source} never got {status}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn admin(gw: &Gateway, method: &str, body: &str) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri("/api/deny-list")
        .header("host", "admin")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let r = send(gw.admin, req).await;
    (r.status, r.body)
}

#[tokio::test]
async fn a_scanner_is_banned_on_every_replica_and_escalates() {
    let redis = RedisServer::start(&[]);
    let secret = secret_file(redis.dir.path());
    let mut a = Gateway::start(&config(&redis, &secret, false));
    let b = Gateway::start(&config(&redis, &secret, false));
    let (web_a, web_b) = (a.addr("web"), b.addr("web"));

    // Three distinct 404s fill the bucket; the fourth overflows it.
    probe("127.0.0.5", web_a, 4).await;
    let on_a = until("127.0.0.5", web_a, 403).await;
    let on_b = until("127.0.0.5", web_b, 403).await;
    eprintln!("banned on replica A after {on_a:?}, on replica B after {on_b:?}");
    assert!(on_b < Duration::from_secs(1), "{on_b:?}");
    let event = a.wait_log("\"action\":\"remediation_ban\"");
    assert!(event.contains("\"scenario\":\"probing\""), "{event}");
    assert!(event.contains("\"ttl_secs\":3600"), "{event}");
    assert!(event.contains("\"offence\":1"), "{event}");
    // Other clients are untouched; the allow-listed one is never banned.
    assert_eq!(get_from("127.0.0.1", web_a, "/ok").await, 200);
    probe("127.0.0.9", web_a, 8).await;
    assert_eq!(get_from("127.0.0.9", web_a, "/ok").await, 200);

    // Listed and removable through the admin API (on any replica).
    let (status, list) = admin(&b, "GET", "").await;
    assert_eq!(status, 200);
    assert!(
        list.contains("remediation:probing") && list.contains("127.0.0.5/32"),
        "{list}"
    );
    let (status, _) = admin(&b, "DELETE", r#"{"cidr": "127.0.0.5/32"}"#).await;
    assert_eq!(status, 200);
    until("127.0.0.5", web_a, 200).await;

    // A repeat offence escalates to the next duration.
    probe("127.0.0.5", web_a, 4).await;
    until("127.0.0.5", web_a, 403).await;
    let event = a.wait_log("\"offence\":2");
    assert!(event.contains("\"ttl_secs\":86400"), "{event}");
}

#[tokio::test]
async fn dry_run_logs_the_decision_without_banning() {
    let redis = RedisServer::start(&[]);
    let secret = secret_file(redis.dir.path());
    let mut gw = Gateway::start(&config(&redis, &secret, true));
    let web = gw.addr("web");
    probe("127.0.0.7", web, 4).await;
    let event = gw.wait_log("\"action\":\"remediation_ban\"");
    assert!(event.contains("\"dry_run\":true"), "{event}");
    assert_eq!(get_from("127.0.0.7", web, "/ok").await, 200);
}
