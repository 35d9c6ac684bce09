//! The `waf` policy in the real gateway, running the OWASP CRS v4 at PL1
//! in front of a real upstream: attacks in the query, a form body and a
//! JSON body are refused before the backend sees them (with the rule ids,
//! score and messages in the access record and a security event), benign
//! requests pass, detect mode only records, exclusions scoped to a path,
//! body limits, unparseable bodies, response inspection, metrics, and a
//! reload with a broken rule file that keeps the old rules serving.

mod common;
mod waf_suite;

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

fn config(upstream: SocketAddr, crs: &Path, extra_rules: &str) -> String {
    let crs = crs.display();
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: crs
    waf:
      crs: {crs}
      rules: [{extra_rules}]
      request_body: {{ max_bytes: 65536 }}
      response_body: {{ inspect: true }}
      exclusions:
        - tags: [attack-sqli]
          paths: [/search]
  - name: crs-detect
    waf:
      mode: detect
      crs: {crs}
  - name: crs-partial
    waf:
      crs: {crs}
      request_body: {{ max_bytes: 1024, over_limit: inspect_partial }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: detect
    match: {{ path: {{ prefix: /detect }} }}
    policies: [crs-detect]
    backend: app
  - name: partial
    match: {{ path: {{ prefix: /partial }} }}
    policies: [crs-partial]
    backend: app
  - name: app
    match: {{ path: {{ prefix: / }} }}
    policies: [crs]
    backend: app
"#
    )
}

fn browser(req: http::request::Builder) -> http::request::Builder {
    req.header("host", "shop.example")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .header("accept-language", "en-GB,en;q=0.5")
        .header("accept-encoding", "gzip, deflate, br")
}

async fn get_b(addr: SocketAddr, target: &str) -> Reply {
    send(
        addr,
        browser(Request::get(target))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await
}

async fn post(addr: SocketAddr, target: &str, content_type: &str, body: &[u8]) -> Reply {
    send(
        addr,
        browser(Request::post(target))
            .header("content-type", content_type)
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap(),
    )
    .await
}

/// The access-log record of the request that got `reply`.
fn record(gw: &Gateway, reply: &Reply) -> serde_json::Value {
    let id = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        for line in gw.access_log() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["request_id"] == id.as_str() {
                return v;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no record for {id}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn rule_ids(record: &serde_json::Value) -> Vec<u64> {
    record["waf"]["rules"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn crs_in_the_gateway() {
    let crs = waf_suite::crs_dir();
    let upstream = Upstream::start_with("app", |seen| {
        seen.uri.starts_with("/leak").then(|| {
            let mut r = http::Response::new(Full::new(Bytes::from_static(
                b"<html>You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1</html>",
            )));
            r.headers_mut()
                .insert("content-type", "text/html".parse().unwrap());
            r
        })
    })
    .await;
    let mut gw = Gateway::start(&config(upstream.addr, &crs, ""));
    let addr = gw.addr("web");

    // Benign browsing, a form and a JSON API call pass untouched.
    let ok = get_b(addr, "/products?category=shoes&page=2").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let ok = post(
        addr,
        "/login",
        "application/x-www-form-urlencoded",
        b"user=alice&password=correct+horse",
    )
    .await;
    assert_eq!(ok.status, 200);
    let ok = post(
        addr,
        "/api/orders",
        "application/json",
        br#"{"item": "shoe", "qty": 2, "note": "leave at the door"}"#,
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(record(&gw, &ok)["waf"].is_null(), "benign request matched");
    let passed = upstream.count();
    assert_eq!(passed, 3);

    // SQL injection in the query: refused by the anomaly score, never sent on.
    let sqli = get_b(addr, "/products?id=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(sqli.status, 403);
    let rec = record(&gw, &sqli);
    assert_eq!(rec["reason"], "waf_blocked");
    assert_eq!(rec["policy"], "crs");
    assert_eq!(rec["waf"]["action"], "blocked");
    assert_eq!(rec["waf"]["blocked_by"], 949110);
    let ids = rule_ids(&rec);
    assert!(
        ids.iter().any(|id| (942000..943000).contains(id)),
        "{ids:?}"
    );
    assert!(rec["waf"]["inbound_score"].as_u64().unwrap_or(0) >= 5);
    assert!(
        rec["waf"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["msg"].as_str().unwrap_or("").contains("SQL Injection")),
        "{rec}"
    );

    // In a form body and in a JSON body (request-body phase).
    let form = post(
        addr,
        "/comment",
        "application/x-www-form-urlencoded",
        b"text=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
    )
    .await;
    assert_eq!(form.status, 403);
    let json = post(
        addr,
        "/api/orders",
        "application/json",
        br#"{"item": "x' UNION SELECT password FROM users--"}"#,
    )
    .await;
    assert_eq!(json.status, 403);
    let ids = rule_ids(&record(&gw, &json));
    assert!(
        ids.iter().any(|id| (942000..943000).contains(id)),
        "{ids:?}"
    );
    // Data matched in a credential is not logged.
    let cred = post(
        addr,
        "/login",
        "application/x-www-form-urlencoded",
        b"user=bob&password=%27%20or%201%3D1--",
    )
    .await;
    assert_eq!(cred.status, 403);
    let rec = record(&gw, &cred);
    let text = rec["waf"].to_string();
    assert!(!text.contains("or 1=1"), "credential logged: {text}");
    assert!(text.contains("<redacted>"), "{text}");
    assert_eq!(upstream.count(), passed, "an attack reached the backend");

    // A body that cannot be parsed is refused (200002), as is one over the
    // inspection limit.
    let bad = post(addr, "/api/orders", "application/json", b"{\"a\": [1, 2").await;
    assert_eq!(bad.status, 400);
    assert_eq!(record(&gw, &bad)["waf"]["blocked_by"], 200002);
    let big = vec![b'a'; 70_000];
    let big_reply = post(addr, "/upload", "application/octet-stream", &big).await;
    assert_eq!(big_reply.status, 413);
    // With `inspect_partial` the first KiB is inspected and all is sent on.
    let mut form = b"data=".to_vec();
    form.extend_from_slice(&big);
    let partial = post(addr, "/partial", "application/x-www-form-urlencoded", &form).await;
    assert_eq!(partial.status, 200, "{}", record(&gw, &partial));
    assert!(upstream.seen().iter().any(|s| s.body_len == form.len()));
    assert_eq!(upstream.count(), passed + 1);

    // An exclusion scoped to /search lets SQL through there only.
    let search = get_b(addr, "/search?q=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(search.status, 200, "{}", record(&gw, &search));
    // Detect mode records and lets through.
    let detect = get_b(addr, "/detect?id=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(detect.status, 200);
    let rec = record(&gw, &detect);
    assert_eq!(rec["waf"]["action"], "detected");
    assert!(rec["waf"]["inbound_score"].as_u64().unwrap_or(0) >= 5);
    assert!(rec["reason"].is_null());

    // Response inspection: a leaked SQL error page is withheld.
    let leak = get_b(addr, "/leak").await;
    assert!(leak.status >= 400, "leak answered {}", leak.status);
    assert!(!leak.body.contains("SQL syntax"));
    let rec = record(&gw, &leak);
    assert!(
        rule_ids(&rec)
            .iter()
            .any(|id| (951000..952000).contains(id)),
        "{rec}"
    );

    // Metrics by rule and outcome.
    let metrics = reqwest_metrics(&gw).await;
    assert!(
        metrics.contains(
            "portcullis_waf_rule_matches_total{policy=\"crs\",rule=\"949110\",action=\"blocked\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_waf_requests_total{policy=\"crs\",outcome=\"blocked\"}"));

    // A broken rule file: the reload is refused naming file:line, and the
    // old rules keep blocking.
    let broken = gw.dir.path().join("broken.conf");
    std::fs::write(
        &broken,
        "SecRule ARGS \"@rx ok\" \"id:10001,phase:2,pass\"\nSecRule ARGZ \"@rx x\" \"id:10002,phase:2,deny\"\n",
    )
    .unwrap();
    let outcome = gw.reload(&config(
        upstream.addr,
        &crs,
        &format!("\"{}\"", broken.display()),
    ));
    assert!(outcome.contains("config reload rejected"), "{outcome}");
    let logs = gw.logs().join("\n");
    assert!(logs.contains("broken.conf:2"), "{logs}");
    let again = get_b(addr, "/products?id=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(again.status, 403);

    // Security events carry the finding.
    let events = gw.logs().join("\n");
    assert!(events.contains("\"waf_blocked\""), "no waf event: {events}");

    // Every record, with or without a finding, fits the published schema.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/access-log.native.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for line in gw.access_log() {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let errors = common::schema::validate(&schema, &value);
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
}

async fn reqwest_metrics(gw: &Gateway) -> String {
    let reply = get(gw.admin, "/metrics").await;
    reply.body
}

/// Malformed and hostile bodies: each gets a clear 4xx from the WAF's
/// body processors (never a 5xx, never a panic), nothing reaches the
/// backend, and the gateway keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_are_refused_cleanly() {
    let crs = waf_suite::crs_dir();
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(upstream.addr, &crs, ""));
    let addr = gw.addr("web");
    let deep_json = format!("{}1{}", "[".repeat(600), "]".repeat(600));
    let deep_xml = format!("{}x{}", "<a>".repeat(600), "</a>".repeat(600));
    let huge_part_header = format!(
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Pad: {}\r\n\r\nv\r\n--b--\r\n",
        "p".repeat(20_000)
    );
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "application/json",
            "deep json".into(),
            deep_json.into_bytes(),
        ),
        (
            "application/json",
            "invalid json".into(),
            b"{\"a\":}".to_vec(),
        ),
        ("text/xml", "deep xml".into(), deep_xml.into_bytes()),
        ("text/xml", "invalid xml".into(), b"<a><b></a>".to_vec()),
        (
            "multipart/form-data",
            "multipart without a boundary".into(),
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n".to_vec(),
        ),
        (
            "multipart/form-data; boundary=b",
            "multipart part header over the limit".into(),
            huge_part_header.into_bytes(),
        ),
        (
            "multipart/form-data; boundary=b",
            "multipart never closed".into(),
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            "invalid UTF-8 and overlong encodings".into(),
            b"a=%c0%ae%c0%ae%2f&b=\xff\xfe&c=%e0%80%af".to_vec(),
        ),
    ];
    for (content_type, what, body) in cases {
        let reply = post(addr, "/api", content_type, &body).await;
        assert!(
            (400..500).contains(&reply.status),
            "{what}: answered {}",
            reply.status
        );
    }
    let target = "/p?q=%ff%fe%c0%af&r=%u0027";
    let reply = get_b(addr, target).await;
    assert!(reply.status < 500, "{target}: {}", reply.status);
    assert_eq!(upstream.count(), usize::from(reply.status == 200));
    let ok = get_b(addr, "/still-serving").await;
    assert_eq!(ok.status, 200);
}
