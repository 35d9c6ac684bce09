//! Attack suite, client bodies: a slow or malformed upload is the client's
//! fault. It is answered 408 or 400, never 502/504, and never counts against
//! the backend's health, so a handful of slow POSTs cannot eject healthy
//! endpoints.

mod common;

use std::time::Instant;

use common::attack::*;
use common::*;

/// The attack config with an endpoint ejected after two failures in a row
/// and the given request timeout and `http` extras.
async fn setup_fragile(request_timeout: &str, http_extra: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("up").await;
    let yaml = config(up.addr, http_extra)
        .replace("consecutive_failures: 1000", "consecutive_failures: 2")
        .replace("request: 3s", &format!("request: {request_timeout}"));
    assert!(
        yaml.contains("consecutive_failures: 2"),
        "config template changed"
    );
    let gw = Gateway::start(&yaml);
    (gw, up)
}

/// Sends a head declaring 100 bytes and only 10 of them, then waits.
async fn stalled_upload(gw: &Gateway) -> (Vec<u16>, std::time::Duration) {
    let raw = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789";
    let started = Instant::now();
    let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
    (statuses(&reply), started.elapsed())
}

/// Without a body timeout, the backend's request timeout runs out while
/// the gateway still waits for the client: 408, and the endpoint stays in.
#[tokio::test]
async fn slow_upload_past_request_timeout_is_408_and_no_ejection() {
    let (gw, up) = setup_fragile("500ms", ", body_timeout: null").await;
    for _ in 0..4 {
        let (codes, _) = stalled_upload(&gw).await;
        assert_eq!(codes, [408]);
    }
    let lines = gw.wait_access_lines(4);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("\"reason\":\"body_timeout\"")),
        "{lines:?}"
    );
    // Four failures would have ejected the only endpoint (503 no endpoint).
    assert_healthy(&gw, &up).await;
}

/// `body_timeout` bounds the pause between body reads on its own, well
/// before a long request timeout.
#[tokio::test]
async fn body_inactivity_timeout_answers_408() {
    let (gw, up) = setup_fragile("30s", ", body_timeout: 300ms").await;
    let (codes, took) = stalled_upload(&gw).await;
    assert_eq!(codes, [408]);
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    let lines = gw.wait_access_lines(1);
    assert!(
        lines[0].contains("\"reason\":\"body_timeout\""),
        "{lines:?}"
    );
    assert_healthy(&gw, &up).await;
}

/// A chunked body whose framing breaks mid-stream is answered 400 (as
/// documented), not 502, and does not count against the endpoint.
#[tokio::test]
async fn malformed_chunked_body_is_400_and_no_ejection() {
    let (gw, up) = setup_fragile("3s", "").await;
    let bodies = [
        "5\r\nhello\r\nzz\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
    ];
    for body in bodies {
        let raw = format!(
            "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
        assert_eq!(statuses(&reply), [400], "{body:?}: {reply}");
    }
    assert_healthy(&gw, &up).await;
    for s in up.seen().iter().filter(|s| s.uri == "/chunked") {
        assert!(s.body_error, "a complete body reached the backend: {s:?}");
    }
}
