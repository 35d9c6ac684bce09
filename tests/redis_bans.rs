//! The deny list shared through a real `redis-server`: a ban added on one
//! replica is enforced on the others within a second, a replica started
//! later gets it at once, a removal anywhere lifts it everywhere, TTLs hold
//! on every replica, and a missed announcement is repaired by the sync.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::redis::{RedisServer, secret_file};
use common::*;
use http::Request;
use http_body_util::Full;

fn config(redis_url: &str, secret: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
state:
  redis:
    url: "{redis_url}"
    key_secret_file: "{secret}"
    sync_interval: 2s
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: all
    match: {{ path: {{ prefix: / }} }}
    direct_response: {{ body: ok }}
"#
    )
}

async fn admin(gw: &Gateway, method: &str, body: &str) -> u16 {
    let req = Request::builder()
        .method(method)
        .uri("/api/deny-list")
        .header("host", "admin")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    send(gw.admin, req).await.status
}

/// Polls until `addr` answers `status`; returns how long it took.
async fn until_status(addr: SocketAddr, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        if get(addr, "/").await.status == status {
            return started.elapsed();
        }
        assert!(started.elapsed() < WAIT, "never answered {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_ban_on_one_replica_holds_on_all_and_survives_restarts() {
    let redis = RedisServer::start(&[]);
    let secret = secret_file(redis.dir.path());
    let yaml = config(&redis.url(), &secret);
    let a = Gateway::start(&yaml);
    let b = Gateway::start(&yaml);
    let (web_a, web_b) = (a.addr("web"), b.addr("web"));
    assert_eq!(get(web_b, "/").await.status, 200);

    let ban = r#"{"cidr": "127.0.0.0/8", "reason": "scanner"}"#;
    assert_eq!(admin(&a, "POST", ban).await, 201);
    assert_eq!(get(web_a, "/").await.status, 403);
    let took = until_status(web_b, 403).await;
    eprintln!("ban visible on the other replica after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A replica started after the ban (or restarted) enforces it from its
    // first sync, well before one sync interval.
    let c = Gateway::start(&yaml);
    let took = until_status(c.addr("web"), 403).await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Removed on another replica: lifted everywhere.
    assert_eq!(admin(&b, "DELETE", r#"{"cidr": "127.0.0.0/8"}"#).await, 200);
    until_status(web_a, 200).await;
    until_status(c.addr("web"), 200).await;

    // A TTL is honoured by every replica (wall-clock expiry in Redis).
    let ttl = r#"{"cidr": "127.0.0.1", "ttl": "1500ms", "reason": "short"}"#;
    assert_eq!(admin(&c, "POST", ttl).await, 201);
    until_status(web_a, 403).await;
    until_status(web_a, 200).await;
    until_status(web_b, 200).await;

    // A ban written straight into Redis without an announcement (a missed
    // message) is picked up by the periodic full sync.
    let mut con = redis.connection(None);
    let json =
        r#"{"cidr":"127.0.0.0/8","reason":"direct","added_by":"ops","expires_unix_ms":null}"#;
    let _: i64 = ::redis::cmd("HSET")
        .arg(&["portcullis:bans", "127.0.0.0/8", json])
        .query(&mut con)
        .unwrap();
    let took = until_status(web_b, 403).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Garbage in the shared hash is skipped, never a crash.
    let _: i64 = ::redis::cmd("HSET")
        .arg(&["portcullis:bans", "junk", "{not json"])
        .query(&mut con)
        .unwrap();
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg(&["portcullis:bans:changed", "1"])
        .query(&mut con)
        .unwrap();
    assert_eq!(get(web_b, "/").await.status, 403);
}
