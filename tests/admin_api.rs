//! The admin API against the real binary: token rule, redacted config,
//! backends with health, reload through the API, the dynamic deny list
//! (blocks at once, expires after its TTL, removable) and the audit events
//! every call leaves.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

const TOKEN: &str = "test-admin-token-0123456789";

fn config(upstream: SocketAddr, admin_extra: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0{admin_extra} }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: all
    backend: app
"#
    )
}

async fn admin(
    gw: &Gateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "admin");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let reply = send(
        gw.admin,
        req.body(Full::new(Bytes::from(body.to_owned()))).unwrap(),
    )
    .await;
    let json = serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, json)
}

#[tokio::test]
async fn token_file_is_required_when_configured() {
    let up = Upstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, format!("{TOKEN}\n")).unwrap();
    let extra = format!(", token_file: \"{}\"", token_path.display());
    let mut gw = Gateway::start(&config(up.addr, &extra));

    let (status, _) = admin(&gw, "GET", "/api/config", None, "").await;
    assert_eq!(status, 401);
    let (status, _) = admin(
        &gw,
        "GET",
        "/api/config",
        Some("wrong-token-0123456789"),
        "",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(get(gw.admin, "/metrics").await.status, 401);
    // Probes stay open for the kubelet.
    assert_eq!(get(gw.admin, "/healthz").await.status, 200);

    let (status, body) = admin(&gw, "GET", "/api/config", Some(TOKEN), "").await;
    assert_eq!(status, 200);
    assert_eq!(body["config"]["admin"]["token_file"], "<redacted>");
    assert!(!body.to_string().contains(TOKEN));

    // The refused call and the accepted one are both audit events.
    let refused = gw.wait_log("\"status_code\":401");
    assert!(
        refused.contains("\"action\":\"admin_request\""),
        "{refused}"
    );
    let accepted = gw.wait_log("\"status_code\":200");
    assert!(accepted.contains("\"authenticated\":true"), "{accepted}");
    assert!(accepted.contains("GET /api/config"), "{accepted}");
    assert!(gw.logs().iter().all(|l| !l.contains(TOKEN)));
}

#[tokio::test]
async fn loopback_without_token_file_is_open() {
    let up = Upstream::start("a").await;
    let gw = Gateway::start(&config(up.addr, ""));
    let (status, body) = admin(&gw, "GET", "/api/backends", None, "").await;
    assert_eq!(status, 200);
    let endpoint = &body["backends"][0]["endpoints"][0];
    assert_eq!(endpoint["address"], up.addr.to_string());
    assert_eq!(endpoint["healthy"], true);
    let (status, body) = admin(&gw, "GET", "/api/routes", None, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["routes"][0]["name"], "all");
}

#[tokio::test]
async fn deny_list_blocks_at_once_and_expires() {
    let up = Upstream::start("a").await;
    let mut gw = Gateway::start(&config(up.addr, ""));
    let web = gw.addr("web");
    assert_eq!(get(web, "/").await.status, 200);

    let add = r#"{"cidr": "127.0.0.1", "ttl": "1s", "reason": "scanner"}"#;
    let (status, body) = admin(&gw, "POST", "/api/deny-list", None, add).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["cidr"], "127.0.0.1/32");
    // Blocks the very next request.
    let blocked = get(web, "/").await;
    assert_eq!(blocked.status, 403);
    let lines = gw.wait_access_lines(2);
    assert!(
        lines[1].contains("\"reason\":\"ip_deny_list\""),
        "{}",
        lines[1]
    );
    // Events in the order they happened: the admin call, then the denial.
    let added = gw.wait_log("\"action\":\"deny_list_added\"");
    assert!(added.contains("\"status_code\":201"), "{added}");
    assert!(added.contains("\"reason\":\"scanner\""), "{added}");
    let event = gw.wait_log("\"action\":\"request_denied\"");
    assert!(event.contains("\"name\":\"deny_list\""), "{event}");

    // Expires after its TTL: poll with a deadline, no fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = get(web, "/").await.status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 403);
        assert!(Instant::now() < deadline, "deny-list entry never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list) = admin(&gw, "GET", "/api/deny-list", None, "").await;
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(0));

    // An entry without TTL holds until removed.
    let add = r#"{"cidr": "127.0.0.0/8", "reason": "incident 42"}"#;
    assert_eq!(admin(&gw, "POST", "/api/deny-list", None, add).await.0, 201);
    assert_eq!(get(web, "/").await.status, 403);
    let remove = r#"{"cidr": "127.0.0.0/8"}"#;
    assert_eq!(
        admin(&gw, "DELETE", "/api/deny-list", None, remove).await.0,
        200
    );
    assert_eq!(get(web, "/").await.status, 200);
    assert_eq!(
        admin(&gw, "DELETE", "/api/deny-list", None, remove).await.0,
        404
    );

    // Bad input is refused with a reason, never half-applied.
    let bad = r#"{"cidr": "10.0.0.1/8", "reason": "typo"}"#;
    let (status, body) = admin(&gw, "POST", "/api/deny-list", None, bad).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap_or("").contains("host bits"),
        "{body}"
    );
    let bad_ttl = r#"{"cidr": "10.0.0.0/8", "reason": "x", "ttl": "soon"}"#;
    assert_eq!(
        admin(&gw, "POST", "/api/deny-list", None, bad_ttl).await.0,
        400
    );
}

#[tokio::test]
async fn reload_through_the_api() {
    let up = Upstream::start("a").await;
    let mut gw = Gateway::start(&config(up.addr, ""));
    let (status, body) = admin(&gw, "POST", "/api/reload", None, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], "unchanged");
    let first_hash = body["config_hash"].as_str().unwrap_or_default().to_owned();

    let mut next = config(up.addr, "");
    next.push_str("  - name: extra\n    match: { path: { prefix: /x } }\n    backend: app\n");
    write_config(&gw, &next);
    let (status, body) = admin(&gw, "POST", "/api/reload", None, "").await;
    assert_eq!(status, 200, "{body}");
    // The file watcher may have applied the change first; either way the
    // answer names the running hash, which is new.
    let result = body["result"].as_str().unwrap_or_default();
    assert!(result == "reloaded" || result == "unchanged", "{body}");
    let hash = body["config_hash"].as_str().unwrap_or_default().to_owned();
    assert_ne!(hash, first_hash);
    let (_, running) = admin(&gw, "GET", "/api/config", None, "").await;
    assert_eq!(running["config_hash"], hash.as_str());
    let event = gw.wait_log("\"action\":\"config_reloaded\"");
    assert!(event.contains(&hash), "{event}");

    write_config(&gw, "routes: [ { name: broken, backend: nowhere } ]\n");
    let (status, body) = admin(&gw, "POST", "/api/reload", None, "").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"][0].as_str().unwrap_or("").contains("nowhere"),
        "{body}"
    );
    let event = gw.wait_log("\"action\":\"config_reload_failed\"");
    assert!(event.contains("nowhere"), "{event}");
    // The running config still serves.
    assert_eq!(get(gw.addr("web"), "/x").await.status, 200);
}

/// Replaces the config file atomically without signalling the gateway.
fn write_config(gw: &Gateway, yaml: &str) {
    let tmp = gw.dir.path().join("next.yaml.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, &gw.config_path).unwrap();
}
