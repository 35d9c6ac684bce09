//! Requests refused on their raw bytes (400 framing, 408 head timeout) and
//! connections refused for a limit leave a record in the configured
//! access-log format — ECS stays ECS and validates against its schema,
//! combined stays combined — and limit refusals are counted in
//! `portcullis_connections_refused_total`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(format: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
    http: {{ head_timeout: 300ms }}
    connections: {{ per_client_ip: 1 }}
routes:
  - name: ok
    direct_response: {{ body: ok }}
logging: {{ access: {{ format: {format} }} }}
"#
    )
}

const SMUGGLE: &[u8] =
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

/// Waits for an access line containing `needle`.
fn wait_line(gw: &Gateway, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(line) = gw.access_log().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no access line with {needle}: {:?}",
            gw.access_log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the three refusals from `source`, one after another.
async fn refuse_three_ways(gw: &Gateway, source: &str) {
    let addr = gw.addr("web");
    let reply = {
        let mut s = connect_from(source, addr).await;
        s.write_all(SMUGGLE).await.expect("write");
        attack::read_to_close(&mut s).await
    };
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");

    // A head that never completes: 408 when head_timeout passes.
    let reply = {
        let mut s = connect_from(source, addr).await;
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
            .await
            .expect("write");
        attack::read_to_close(&mut s).await
    };
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");

    // One connection per client IP: a second one is closed unanswered.
    let mut held = connect_from(source, addr).await;
    held.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let mut first = [0u8; 12];
    held.read_exact(&mut first).await.expect("first answer");
    let mut second = connect_from(source, addr).await;
    let _ = second.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, second.read_to_end(&mut out)).await;
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    drop(held);
}

#[tokio::test]
async fn raw_refusals_follow_the_ecs_format() {
    let gw = Gateway::start(&config("ecs"));
    refuse_three_ways(&gw, "127.0.0.5").await;
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/access-log.ecs.json"),
        )
        .expect("schema"),
    )
    .expect("schema json");
    for (reason, status) in [
        ("cl_and_te", Some(400)),
        ("head_timeout", Some(408)),
        ("conn_limit", None),
    ] {
        let line = wait_line(&gw, &format!("\"reason\":\"{reason}\""));
        let doc: serde_json::Value = serde_json::from_str(&line).expect("ECS JSON");
        let errors = schema::validate(&schema, &doc);
        assert!(errors.is_empty(), "{line}: {errors:?}");
        assert_eq!(doc["ecs"]["version"], "8.11.0");
        assert_eq!(doc["event"]["outcome"], "failure");
        assert_eq!(doc["source"]["ip"], "127.0.0.5");
        assert_eq!(doc["portcullis"]["listener"], "web");
        match status {
            Some(code) => assert_eq!(doc["http"]["response"]["status_code"], code, "{line}"),
            None => assert!(doc.get("http").is_none(), "{line}"),
        }
    }
    let metrics = prom::parse(&get(gw.admin, "/metrics").await.body).expect("metrics");
    let refused = metrics.value(
        "portcullis_connections_refused_total",
        &[("listener", "web"), ("limit", "per_ip")],
    );
    assert_eq!(refused, 1.0);
}

#[tokio::test]
async fn raw_refusals_follow_the_combined_format() {
    let gw = Gateway::start(&config("combined"));
    refuse_three_ways(&gw, "127.0.0.6").await;
    for status in [" 400 ", " 408 ", " 0 "] {
        let line = wait_line(&gw, &format!("\"-\"{status}0 \"-\" \"-\""));
        assert!(line.starts_with("127.0.0.6 - - ["), "{line}");
    }
}
