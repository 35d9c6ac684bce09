//! `/metrics` on the admin listener: strict text-format parse, counters that
//! move with traffic, bounded labels (no raw path or client IP), reloads
//! counted, the config hash published.

mod common;

use std::net::SocketAddr;

use common::*;

fn config(upstream: SocketAddr, extra_route: &str) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
policies:
  - name: no-loopback
    ip_filter: {{ deny: [127.0.0.0/8] }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: api
    match: {{ path: {{ prefix: /api }} }}
    backend: app
  - name: blocked
    match: {{ path: {{ prefix: /blocked }} }}
    policies: [no-loopback]
    direct_response: {{ status: 200, body: "never" }}
{extra_route}
"#
    )
}

async fn scrape(gw: &Gateway) -> prom::Exposition {
    let reply = get(gw.admin, "/metrics").await;
    assert_eq!(reply.status, 200);
    prom::parse(&reply.body).unwrap_or_else(|e| panic!("{e}\n{}", reply.body))
}

#[tokio::test]
async fn metrics_parse_and_move() {
    let up = Upstream::start("a").await;
    let mut gw = Gateway::start(&config(up.addr, ""));
    let web = gw.addr("web");

    let before = scrape(&gw).await;
    let ok = [("route", "api"), ("method", "GET"), ("status_class", "2xx")];
    assert_eq!(before.value("portcullis_http_requests_total", &ok), 0.0);

    for i in 0..3 {
        assert_eq!(
            get(web, &format!("/api/item/{i}?secret=1")).await.status,
            200
        );
    }
    assert_eq!(get(web, "/blocked").await.status, 403);
    assert_eq!(get(web, "/nothing-here").await.status, 404);
    // Metrics are recorded when the response body ends; the access log is
    // written after, so three lines mean the counters moved.
    gw.wait_access_lines(5);

    let after = scrape(&gw).await;
    assert_eq!(after.value("portcullis_http_requests_total", &ok), 3.0);
    assert_eq!(
        after.value(
            "portcullis_http_requests_total",
            &[("route", ""), ("status_class", "4xx")]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            "portcullis_denials_total",
            &[("policy", "no-loopback"), ("reason", "ip_denied")]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            "portcullis_http_request_duration_seconds_count",
            &[("route", "api")]
        ),
        3.0
    );
    assert_eq!(
        after.value(
            "portcullis_upstream_duration_seconds_count",
            &[("route", "api")]
        ),
        3.0
    );
    assert!(
        after.value(
            "portcullis_connections_accepted_total",
            &[("listener", "web")]
        ) >= 5.0
    );
    assert_eq!(
        after.value(
            "portcullis_upstream_endpoint_healthy",
            &[("backend", "app"), ("endpoint", &up.addr.to_string())]
        ),
        1.0
    );
    assert!(
        after.value(
            "portcullis_log_records_written_total",
            &[("stream", "access")]
        ) >= 1.0
    );
    assert_eq!(after.value("portcullis_config_info", &[]), 1.0);
    // Bounded cardinality: no path, query or client IP ever becomes a label.
    for key in after.samples.keys() {
        assert!(!key.contains("/api/item"), "{key}");
        assert!(!key.contains("127.0.0.1\""), "{key}");
    }

    // A reload is counted and the hash series is replaced, not added.
    let line = gw.reload(&config(
        up.addr,
        "  - name: extra\n    match: { path: { prefix: /extra } }\n    backend: app",
    ));
    assert!(line.contains("config reloaded"), "{line}");
    let reloaded = scrape(&gw).await;
    assert_eq!(
        reloaded.value("portcullis_config_reloads_total", &[("result", "reloaded")]),
        1.0
    );
    let hashes = reloaded
        .samples
        .keys()
        .filter(|k| k.starts_with("portcullis_config_info"))
        .count();
    assert_eq!(hashes, 1);
    let hash = field(&line, "config_hash").expect("hash in the reload line");
    assert_eq!(
        reloaded.value("portcullis_config_info", &[("hash", &hash)]),
        1.0
    );
    // Series of the kept route survived the reload.
    assert_eq!(reloaded.value("portcullis_http_requests_total", &ok), 3.0);
}
