//! Access log and security events through every sink against the real
//! binary: records validate against the JSON Schemas in `schemas/` (native
//! and ECS), credentials never appear in clear, the trace context is
//! propagated, syslog receivers get RFC 5424 over UDP and TCP, and a hash
//! chained file verifies until a line is modified.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

const SECRETS: [&str; 4] = ["SECRET-TOKEN", "SECRET-COOKIE", "SECRET-Q", "SECRET-KEY"];
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn schema(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(schema: &serde_json::Value, line: &str) {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let errors = schema::validate(schema, &value);
    assert!(errors.is_empty(), "{errors:#?}\n{line}");
}

fn assert_no_secrets(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
}

/// A request carrying every kind of credential the log must hide.
async fn send_secrets(addr: SocketAddr, path: &str) -> Reply {
    let req = Request::get(format!("{path}?token=SECRET-Q&page=2"))
        .header("host", "example.com")
        .header("authorization", "Bearer SECRET-TOKEN")
        .header("cookie", "session=SECRET-COOKIE")
        .header("x-api-key", "SECRET-KEY")
        .header("user-agent", "test-agent/1.0")
        .header("referer", "https://example.com/from?api_key=SECRET-KEY")
        .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(addr, req).await
}

fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} lines in {}",
            lines.len(),
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn native_file_sink_with_hash_chain() {
    let up = Upstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let audit = dir.path().join("audit.log");
    let gw = Gateway::start(&format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners: [ {{ name: web, address: 127.0.0.1:0 }} ]
policies: [ {{ name: block, ip_filter: {{ deny: [127.0.0.0/8] }} }} ]
backends: [ {{ name: app, endpoints: [ {{ address: "{}" }} ] }} ]
routes:
  - {{ name: denied, match: {{ path: {{ prefix: /denied }} }}, policies: [block], backend: app }}
  - {{ name: all, backend: app }}
logging:
  access:
    format: native
    headers: [authorization, cookie, x-api-key, accept]
    redact_query_params: [page]
    sink: {{ kind: file, path: "{}", hash_chain: true }}
  security:
    sink: {{ kind: file, path: "{}", hash_chain: true }}
"#,
        up.addr,
        access.display(),
        audit.display()
    ));
    let web = gw.addr("web");
    assert_eq!(send_secrets(web, "/items").await.status, 200);
    assert_eq!(send_secrets(web, "/denied").await.status, 403);

    let lines = wait_lines(&access, 2);
    let native = schema("access-log.native.json");
    for line in &lines {
        assert_valid(&native, line);
        assert_no_secrets(line);
    }
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["trace_id"], TRACE);
    assert_eq!(first["query"], "token=REDACTED&page=REDACTED");
    assert_eq!(first["headers"]["authorization"], "<redacted>");
    assert_eq!(first["user_agent"], "test-agent/1.0");
    assert_eq!(first["scheme"], "http");
    // The upstream sees the same trace with the gateway's span as parent.
    let sent = up.seen()[0].headers["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(sent.starts_with(&format!("00-{TRACE}-")), "{sent}");
    assert!(sent.contains(first["span_id"].as_str().unwrap()), "{sent}");

    // The denial is a security event in the audit file.
    let events = wait_lines(&audit, 1);
    assert!(
        events[0].contains("\"action\":\"request_denied\""),
        "{}",
        events[0]
    );
    assert_no_secrets(&events.join("\n"));

    for file in [&access, &audit] {
        let out = verify(file);
        assert!(out.0, "{}", out.1);
    }
    // Tampering with the first record is found at line 1.
    let text = std::fs::read_to_string(&access).unwrap();
    std::fs::write(
        &access,
        text.replacen("\"status\":200", "\"status\":204", 1),
    )
    .unwrap();
    let (ok, report) = verify(&access);
    assert!(!ok && report.contains(":1: chain broken"), "{report}");
}

fn verify(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "verify"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Reads octet-counted syslog frames from the first TCP connection.
fn tcp_receiver() -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        loop {
            let mut len = Vec::new();
            if reader.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                return;
            }
            let Ok(n) = String::from_utf8_lossy(&len).trim().parse::<usize>() else {
                return;
            };
            let mut frame = vec![0; n];
            if reader.read_exact(&mut frame).is_err() {
                return;
            }
            let _ = tx.send(String::from_utf8_lossy(&frame).into_owned());
        }
    });
    (addr, rx)
}

/// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG` → MSG.
fn rfc5424_message(frame: &str, msgid: &str) -> String {
    let re = regex::Regex::new(
        r"^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) portcullis (\d+) (\S+) - (.*)$",
    )
    .unwrap();
    let caps = re
        .captures(frame)
        .unwrap_or_else(|| panic!("not RFC 5424: {frame}"));
    assert_eq!(&caps[1], "134", "local0.info");
    assert_eq!(&caps[5], msgid);
    caps[6].to_owned()
}

#[tokio::test]
async fn ecs_over_syslog_udp_and_events_over_tcp() {
    let up = Upstream::start("a").await;
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    let (tcp_addr, tcp_frames) = tcp_receiver();
    let gw = Gateway::start(&format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners: [ {{ name: web, address: 127.0.0.1:0 }} ]
policies: [ {{ name: block, ip_filter: {{ deny: [127.0.0.0/8] }} }} ]
backends: [ {{ name: app, endpoints: [ {{ address: "{}" }} ] }} ]
routes:
  - {{ name: denied, match: {{ path: {{ prefix: /denied }} }}, policies: [block], backend: app }}
  - {{ name: all, backend: app }}
logging:
  access:
    format: ecs
    headers: [cookie]
    sink: {{ kind: syslog, address: "{}", protocol: udp }}
  security:
    sink: {{ kind: syslog, address: "{}", protocol: tcp }}
"#,
        up.addr,
        udp.local_addr().unwrap(),
        tcp_addr
    ));
    let web = gw.addr("web");
    assert_eq!(send_secrets(web, "/denied").await.status, 403);

    let mut buf = vec![0u8; 65536];
    let n = udp.recv(&mut buf).expect("a syslog datagram");
    let frame = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_no_secrets(&frame);
    let record = rfc5424_message(&frame, "access");
    assert_valid(&schema("access-log.ecs.json"), &record);
    let v: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(v["http"]["response"]["status_code"], 403);
    assert_eq!(v["rule"]["name"], "block");
    assert_eq!(v["trace"]["id"], TRACE);
    assert_eq!(v["http"]["request"]["headers"]["cookie"], "<redacted>");

    let frame = tcp_frames.recv_timeout(WAIT).expect("a syslog TCP frame");
    assert_no_secrets(&frame);
    let event = rfc5424_message(&frame, "security");
    let e: serde_json::Value = serde_json::from_str(&event).unwrap();
    assert_eq!(e["event"]["kind"], "alert");
    assert_eq!(e["event"]["action"], "request_denied");
    assert_eq!(e["portcullis"]["reason"], "ip_denied");
}

#[tokio::test]
async fn combined_format_on_stdout() {
    let up = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners: [ {{ name: web, address: 127.0.0.1:0 }} ]
backends: [ {{ name: app, endpoints: [ {{ address: "{}" }} ] }} ]
routes: [ {{ name: all, backend: app }} ]
logging: {{ access: {{ format: combined }} }}
"#,
        up.addr
    ));
    assert_eq!(send_secrets(gw.addr("web"), "/c").await.status, 200);
    let line = gw.wait_access_lines(1).remove(0);
    assert_no_secrets(&line);
    let re = regex::Regex::new(
        r#"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /c\?token=REDACTED&page=2 HTTP/1\.1" 200 \d+ "https://example\.com/from\?api_key=REDACTED" "test-agent/1\.0"$"#,
    )
    .unwrap();
    assert!(re.is_match(&line), "{line}");
}
