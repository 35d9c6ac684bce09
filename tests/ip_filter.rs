//! End-to-end ip_filter: route and listener policies, IPv4 and IPv6 clients,
//! most specific prefix, the 403 and its access-log line, resolution through
//! trusted proxies, and a 100,000-entry deny list.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

fn config(upstream: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
server: {{ trusted_proxies: [127.0.0.1/32] }}
listeners:
  - name: web
    address: 127.0.0.1:0
  - name: locked
    address: 127.0.0.1:0
    policies: [only-one]
  - name: v6
    address: "[::1]:0"
policies:
  - name: only-one
    ip_filter: {{ allow: [127.0.0.1/32] }}
  - name: deny-two
    ip_filter: {{ deny: [127.0.0.2/32] }}
  - name: nested
    ip_filter: {{ allow: [127.0.0.0/8], deny: [127.0.0.2/32] }}
  - name: deny-v6-loopback
    ip_filter: {{ deny: ["::1/128"] }}
  - name: allow-v6-loopback
    ip_filter: {{ allow: ["::1/128"] }}
  - name: deny-net
    ip_filter: {{ deny: [198.51.100.0/24, 127.0.0.1/32] }}
  - name: allow-net
    ip_filter: {{ allow: [203.0.113.0/24] }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: guarded
    match: {{ path: {{ prefix: /guarded }} }}
    policies: [deny-two]
    backend: app
  - name: nested
    match: {{ path: {{ prefix: /nested }} }}
    policies: [nested]
    backend: app
  - name: v6-deny
    match: {{ path: {{ prefix: /v6-deny }} }}
    policies: [deny-v6-loopback]
    backend: app
  - name: v6-allow
    match: {{ path: {{ prefix: /v6-allow }} }}
    policies: [allow-v6-loopback]
    backend: app
  - name: deny-net
    match: {{ path: {{ prefix: /deny-net }} }}
    policies: [deny-net]
    backend: app
  - name: allow-net
    match: {{ path: {{ prefix: /allow-net }} }}
    policies: [allow-net]
    backend: app
  - name: open
    backend: app
"#
    )
}

fn req(path: &str) -> Request<Full<Bytes>> {
    req_xff(path, None)
}

fn req_xff(path: &str, xff: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "example.com");
    if let Some(xff) = xff {
        b = b.header("x-forwarded-for", xff);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

/// Access-log lines as JSON, waiting for at least `n`.
fn access(gw: &Gateway, n: usize) -> Vec<serde_json::Value> {
    gw.wait_access_lines(n)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Asserts `r` is the gateway's 403 and returns its request id.
fn assert_denied(r: &Reply) -> String {
    assert_eq!(r.status, 403, "{}", r.body);
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(r.body.contains(&format!("request id: {id}")), "{}", r.body);
    id
}

#[tokio::test]
async fn route_policy_denies_one_address_and_logs_why() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let web = gw.addr("web");
    let r = send_from("127.0.0.1", web, req("/guarded/a")).await;
    assert_eq!(r.status, 200);
    let r = send_from("127.0.0.2", web, req("/guarded/b")).await;
    let id = assert_denied(&r);
    // The unguarded route serves .2 as usual.
    let r = send_from("127.0.0.2", web, req("/elsewhere")).await;
    assert_eq!(r.status, 200);
    let seen: Vec<String> = up.seen().iter().map(|s| s.uri.clone()).collect();
    assert_eq!(seen, ["/guarded/a", "/elsewhere"]);
    assert!(up.seen().iter().all(|s| s.uri != "/guarded/b"));

    let log = access(&gw, 3);
    let denied = log.iter().find(|v| v["status"] == 403).unwrap();
    assert_eq!(denied["request_id"], id.as_str());
    assert_eq!(denied["policy"], "deny-two");
    assert_eq!(denied["reason"], "ip_denied");
    assert_eq!(denied["route"], "guarded");
    assert_eq!(denied["client_ip"], "127.0.0.2");
    assert!(denied.get("upstream").is_none(), "{denied}");
    for ok in log.iter().filter(|v| v["status"] == 200) {
        assert!(ok.get("policy").is_none(), "{ok}");
    }
}

#[tokio::test]
async fn most_specific_prefix_decides() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let web = gw.addr("web");
    for (source, status) in [
        ("127.0.0.1", 200),
        ("127.0.0.2", 403),
        ("127.0.0.3", 200),
        ("127.1.2.3", 200),
    ] {
        let r = send_from(source, web, req("/nested")).await;
        assert_eq!(r.status, status, "{source}");
    }
    assert_eq!(up.count(), 3);
    let log = access(&gw, 4);
    assert_eq!(log[1]["policy"], "nested");
    assert_eq!(log[1]["reason"], "ip_denied");
}

#[tokio::test]
async fn listener_policy_applies_to_every_route() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let locked = gw.addr("locked");
    for path in ["/guarded", "/nested", "/anything", "/v6-allow"] {
        let r = send_from("127.0.0.2", locked, req(path)).await;
        assert_denied(&r);
    }
    assert_eq!(up.count(), 0, "a denied client reached the upstream");
    // The allowed address passes the listener policy, then the route's own.
    let r = send_from("127.0.0.1", locked, req("/anything")).await;
    assert_eq!(r.status, 200);
    let r = send_from("127.0.0.1", locked, req("/v6-allow")).await;
    assert_eq!(r.status, 403, "route policy skipped after the listener's");
    let log = access(&gw, 6);
    for v in &log[..4] {
        assert_eq!(v["policy"], "only-one", "{v}");
        assert_eq!(v["listener"], "locked");
    }
    assert_eq!(log[5]["policy"], "allow-v6-loopback");
    // The same routes on the plain listener are not locked.
    let r = send_from("127.0.0.2", gw.addr("web"), req("/anything")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn ipv6_clients_are_filtered() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let v6 = gw.addr("v6");
    assert!(v6.is_ipv6());
    let r = send_from("::1", v6, req("/v6-deny")).await;
    assert_denied(&r);
    let r = send_from("::1", v6, req("/v6-allow")).await;
    assert_eq!(r.status, 200);
    assert_eq!(up.seen()[0].headers["x-real-ip"], "::1");
    // An IPv4 client is outside the v6 allow list.
    let r = send_from("127.0.0.1", gw.addr("web"), req("/v6-allow")).await;
    assert_eq!(r.status, 403);
    assert_eq!(up.count(), 1);
    let log = access(&gw, 3);
    assert_eq!(log[0]["client_ip"], "::1");
    assert_eq!(log[0]["policy"], "deny-v6-loopback");
}

#[tokio::test]
async fn filter_keys_on_the_client_resolved_through_trusted_proxies() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let web = gw.addr("web");
    // deny-net lists the trusted proxy itself (127.0.0.1) and 198.51.100.0/24.
    let cases = [
        ("127.0.0.1", Some("203.0.113.5"), "/deny-net", 200),
        ("127.0.0.1", Some("198.51.100.9"), "/deny-net", 403),
        (
            "127.0.0.1",
            Some("198.51.100.9, 203.0.113.5"),
            "/deny-net",
            200,
        ),
        ("127.0.0.1", None, "/deny-net", 403),
        // allow-net: only 203.0.113.0/24 may enter.
        ("127.0.0.1", Some("203.0.113.5"), "/allow-net", 200),
        ("127.0.0.1", Some("192.0.2.1"), "/allow-net", 403),
        // An untrusted peer cannot claim an allowed address.
        ("127.0.0.2", Some("203.0.113.5"), "/allow-net", 403),
    ];
    for (source, xff, path, status) in cases {
        let r = send_from(source, web, req_xff(path, xff)).await;
        assert_eq!(r.status, status, "{source} {xff:?} {path}");
    }
    assert_eq!(up.count(), 3);
    let log = access(&gw, cases.len());
    assert_eq!(log[1]["client_ip"], "198.51.100.9");
    assert_eq!(log[6]["client_ip"], "127.0.0.2");
    assert_eq!(log[6]["policy"], "allow-net");
}

#[tokio::test]
async fn hundred_thousand_cidr_deny_list() {
    let up = Upstream::start("u").await;
    let mut yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
server: {{ trusted_proxies: [127.0.0.1/32] }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{}" }}]
routes:
  - name: app
    policies: [blocklist]
    backend: app
policies:
  - name: blocklist
    ip_filter:
      deny:
"#,
        up.addr
    );
    // 99,998 /24s from 10.0.0.0 upward, two /32s, two /64s.
    for i in 0u32..99_998 {
        let [a, b, c, _] = ((10 << 24) + (i << 8)).to_be_bytes();
        writeln!(yaml, "        - {a}.{b}.{c}.0/24").unwrap();
        if i == 50_000 {
            yaml.push_str("        - 127.0.0.2/32\n        - 198.51.100.7/32\n");
            yaml.push_str("        - \"2001:db8:1::/64\"\n        - \"2001:db8:2::/64\"\n");
        }
    }
    let entries = yaml.matches("\n        - ").count();
    assert_eq!(entries, 100_002);
    let gw = Gateway::start(&yaml);
    let web = gw.addr("web");

    let r = send_from("127.0.0.2", web, req("/x")).await;
    assert_denied(&r);
    let r = send_from("127.0.0.1", web, req("/x")).await;
    assert_eq!(r.status, 200);
    // Through the trusted proxy, clients inside and outside the list.
    let last = (10u32 << 24) + (99_997 << 8);
    let [a, b, c, _] = last.to_be_bytes();
    let cases = [
        ("10.0.0.1".to_string(), 403),
        ("10.100.200.99".to_string(), 403),
        (format!("{a}.{b}.{c}.200"), 403),
        (format!("{a}.{b}.{}.1", c.wrapping_add(1)), 200),
        ("198.51.100.7".to_string(), 403),
        ("198.51.100.8".to_string(), 200),
        ("2001:db8:2::abcd".to_string(), 403),
        ("2001:db8:3::1".to_string(), 200),
        ("9.255.255.255".to_string(), 200),
    ];
    for (client, status) in &cases {
        let r = send_from("127.0.0.1", web, req_xff("/x", Some(client))).await;
        assert_eq!(r.status, *status, "{client}");
    }
    assert_eq!(up.count(), 1 + cases.iter().filter(|c| c.1 == 200).count());
}
