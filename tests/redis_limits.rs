//! Rate limits shared through a real `redis-server`: several gateway
//! processes enforce one limit; Redis down (fail_open / fail_closed, the
//! deadline, the breaker's events, recovery); the script reloaded after
//! `SCRIPT FLUSH` (NOSCRIPT); a wrong password and an ACL user.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::redis::{RedisServer, secret_file};
use common::*;

fn config(redis_url: &str, secret: &str, extra_redis: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
state:
  redis:
    url: "{redis_url}"
    key_secret_file: "{secret}"
    timeout: 100ms
    breaker_interval: 300ms
{extra_redis}
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: shared-open
    rate_limit:
      limits: [{{ rate: 1, per: 1m, burst: 6 }}]
      store: {{ backend: redis, on_failure: fail_open, replicas: 3 }}
  - name: shared-closed
    rate_limit:
      limits: [{{ rate: 1, per: 1m, burst: 4 }}]
      store: {{ backend: redis, on_failure: fail_closed }}
routes:
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    policies: [shared-open]
    direct_response: {{ body: ok }}
  - name: closed
    match: {{ path: {{ prefix: /closed }} }}
    policies: [shared-closed]
    direct_response: {{ body: ok }}
"#
    )
}

async fn statuses(addr: SocketAddr, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(get(addr, path).await.status);
    }
    out
}

fn accepted(s: &[u16]) -> usize {
    s.iter().filter(|s| **s == 200).count()
}

#[tokio::test]
async fn three_gateways_enforce_one_limit_and_survive_an_outage() {
    let mut redis = RedisServer::start(&[]);
    let secret = secret_file(redis.dir.path());
    let yaml = config(&redis.url(), &secret, "");
    let mut gws: Vec<Gateway> = (0..3).map(|_| Gateway::start(&yaml)).collect();
    let webs: Vec<SocketAddr> = gws.iter().map(|g| g.addr("web")).collect();

    // 4 requests to each replica: burst 6 in total, not 6 per replica.
    let mut total = 0;
    for web in &webs {
        total += accepted(&statuses(*web, "/open", 4).await);
    }
    assert_eq!(total, 6, "the three replicas share one allowance");
    let refused = get(webs[0], "/open").await;
    assert_eq!(refused.status, 429);
    assert!(refused.headers.contains_key("retry-after"));
    // Keys are HMACs: no client address is readable in Redis.
    let mut con = redis.connection(None);
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| !k.contains("127.0.0.1")), "{keys:?}");
    // Idle keys expire (a TTL is set on every one).
    let ttl: i64 = ::redis::cmd("PTTL").arg(&keys[0]).query(&mut con).unwrap();
    assert!(ttl > 0, "{ttl}");

    // NOSCRIPT: the script cache emptied (as after a restart) is reloaded
    // transparently; the limit still holds.
    let _: () = ::redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    assert_eq!(get(webs[1], "/open").await.status, 429);
    drop(con);

    // Outage: nothing waits past the deadline (100 ms, plus slack for a
    // loaded machine); fail_closed answers 503, fail_open decides locally
    // with the limit ÷ 3 (burst 2 per replica).
    redis.stop();
    let started = Instant::now();
    let closed = get(webs[0], "/closed").await;
    assert_eq!(closed.status, 503, "{}", closed.body);
    let first_wait = started.elapsed();
    assert!(first_wait < Duration::from_secs(1), "{first_wait:?}");
    gws[0].find_or_wait_log("\"action\":\"shared_store_down\"");
    let local = statuses(webs[2], "/open", 4).await;
    assert_eq!(accepted(&local), 2, "{local:?}");
    let started = Instant::now();
    let burst = statuses(webs[0], "/closed", 20).await;
    assert!(burst.iter().all(|s| *s == 503), "{burst:?}");
    // The breaker: 20 requests cost far less than 20 deadlines.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    // Recovery: a fresh Redis is used again once the breaker's probe passes.
    redis.restart();
    let deadline = Instant::now() + WAIT;
    loop {
        if get(webs[0], "/closed").await.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gws[0].wait_log("\"action\":\"shared_store_up\"");
    // Shared again: the other replicas draw from the same fresh allowance.
    let mut total = 1;
    for web in &webs {
        total += accepted(&statuses(*web, "/closed", 3).await);
    }
    assert_eq!(total, 4);
    let metrics = get(gws[0].admin, "/metrics").await.body;
    assert!(
        metrics.contains("portcullis_shared_store_up 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_shared_store_outages_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_closed_and_an_acl_user_works() {
    let redis = RedisServer::start(&["--requirepass", "right-password"]);
    let mut con = redis.connection(Some("right-password"));
    let _: () = ::redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "gateway",
            "on",
            ">gw-password",
            "~portcullis:*",
            "&portcullis:*",
            "+@all",
        ])
        .query(&mut con)
        .unwrap();
    let secret = secret_file(redis.dir.path());
    let wrong = redis.dir.path().join("wrong");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let extra = format!("    password_file: \"{}\"", wrong.display());
    let mut gw = Gateway::start(&config(&redis.url(), &secret, &extra));
    let web = gw.addr("web");
    let reply = get(web, "/closed").await;
    assert_eq!(reply.status, 503);
    let line = gw.find_or_wait_log("\"action\":\"shared_store_down\"");
    assert!(
        line.to_lowercase().contains("pass") || line.to_lowercase().contains("auth"),
        "{line}"
    );
    // The password never appears in a log line.
    assert!(gw.logs().iter().all(|l| !l.contains("not-it")));

    let right = redis.dir.path().join("right");
    std::fs::write(&right, "gw-password\n").unwrap();
    let extra = format!(
        "    username: gateway\n    password_file: \"{}\"",
        right.display()
    );
    let gw = Gateway::start(&config(&redis.url(), &secret, &extra));
    let got = statuses(gw.addr("web"), "/closed", 5).await;
    assert_eq!(accepted(&got), 4, "{got:?}");
    assert_eq!(got[4], 429);
}
