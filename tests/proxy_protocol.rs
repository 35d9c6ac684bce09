//! End-to-end PROXY protocol: v1 and v2 headers from a trusted proxy name the
//! client; `required` refuses connections without one; `optional` serves plain
//! connections; a header from an untrusted peer is never believed.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST: &[u8] = b"GET /pp HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";

fn config(upstream: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
server: {{ trusted_proxies: [127.0.0.1/32] }}
listeners:
  - name: req
    address: 127.0.0.1:0
    proxy_protocol: required
  - name: opt
    address: 127.0.0.1:0
    proxy_protocol: optional
  - name: quiet
    address: 127.0.0.1:0
    proxy_protocol: required
    http: {{ head_timeout: 200ms }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
routes:
  - name: app
    backend: app
"#
    )
}

/// Sends `bytes` from `source` and reads until the gateway closes.
async fn exchange(source: &str, addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = connect_from(source, addr).await;
    stream.write_all(bytes).await.unwrap();
    read_all(stream).await
}

async fn read_all(mut stream: TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("gateway kept the connection open")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

fn v2_header(family: u8, addresses: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x21); // version 2, PROXY
    h.push(family);
    h.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
    h.extend_from_slice(addresses);
    h
}

fn v2_tcp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&src.octets());
    a.extend_from_slice(&dst.octets());
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&dport.to_be_bytes());
    v2_header(0x11, &a)
}

fn v2_tcp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&src.octets());
    a.extend_from_slice(&dst.octets());
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&dport.to_be_bytes());
    v2_header(0x21, &a)
}

fn with_request(header: &[u8]) -> Vec<u8> {
    [header, REQUEST].concat()
}

/// The `n`-th access-log line (waiting for it) as JSON.
fn access(gw: &Gateway, n: usize) -> serde_json::Value {
    let lines = gw.wait_access_lines(n + 1);
    serde_json::from_str(&lines[n]).unwrap()
}

#[tokio::test]
async fn v1_and_v2_headers_name_the_client() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n".to_vec(),
            "203.0.113.7",
            "203.0.113.7:51234",
        ),
        (
            b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n".to_vec(),
            "2001:db8::7",
            "[2001:db8::7]:40000",
        ),
        (
            v2_tcp4(
                Ipv4Addr::new(198, 51, 100, 9),
                Ipv4Addr::new(10, 0, 0, 1),
                6000,
                80,
            ),
            "198.51.100.9",
            "198.51.100.9:6000",
        ),
        (
            v2_tcp6(
                "2001:db8:c0::9".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
                7000,
                443,
            ),
            "2001:db8:c0::9",
            "[2001:db8:c0::9]:7000",
        ),
    ];
    let mut n = 0;
    for listener in ["req", "opt"] {
        for (header, client, peer) in &cases {
            let out = exchange("127.0.0.1", gw.addr(listener), &with_request(header)).await;
            assert!(
                out.starts_with("HTTP/1.1 200"),
                "{listener} {client}: {out}"
            );
            let seen = up.seen();
            let h = &seen.last().unwrap().headers;
            assert_eq!(h["x-real-ip"], *client);
            assert_eq!(h["x-forwarded-for"], *client);
            let v = access(&gw, n);
            assert_eq!(v["client_ip"], *client);
            assert_eq!(v["peer"], *peer);
            // The load balancer that sent the header is kept too.
            assert!(
                v["proxied_by"].as_str().unwrap().starts_with("127.0.0.1:"),
                "{v}"
            );
            assert_eq!(v["listener"], listener);
            n += 1;
        }
    }
    assert_eq!(up.count(), 8);
}

#[tokio::test]
async fn v2_local_command_keeps_the_real_peer() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    // LOCAL (0x20), family unspecified, no addresses: a health check.
    let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0, 0]);
    let out = exchange("127.0.0.1", gw.addr("req"), &with_request(&local)).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(up.seen()[0].headers["x-real-ip"], "127.0.0.1");
    let v = access(&gw, 0);
    assert_eq!(v["client_ip"], "127.0.0.1");
    assert!(v["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(v.get("proxied_by").is_none(), "{v}");
}

#[tokio::test]
async fn required_without_header_is_closed_optional_is_served() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let out = exchange("127.0.0.1", gw.addr("req"), REQUEST).await;
    assert_eq!(out, "", "required listener answered a plain request");
    // A header that is cut short or garbled is refused too.
    let out = exchange("127.0.0.1", gw.addr("req"), b"PROXY TCP4 1.2.3.4\r\n").await;
    assert_eq!(out, "");
    let mut bad = v2_tcp4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, 2);
    bad[13] = 0x71; // unknown family
    assert_eq!(
        exchange("127.0.0.1", gw.addr("opt"), &with_request(&bad)).await,
        ""
    );
    // A trusted peer that sends nothing is closed at the head timeout.
    let started = std::time::Instant::now();
    assert_eq!(exchange("127.0.0.1", gw.addr("quiet"), b"").await, "");
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(up.count(), 0);

    let out = exchange("127.0.0.1", gw.addr("opt"), REQUEST).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(up.seen()[0].headers["x-real-ip"], "127.0.0.1");
    let v = access(&gw, 0);
    assert_eq!(v["client_ip"], "127.0.0.1");

    // The harness's hyper client on the optional listener works as usual.
    let r = get(gw.addr("opt"), "/pp").await;
    assert_eq!(r.status, 200);
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn header_from_untrusted_peer_is_never_believed() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(up.addr));
    let v1 = with_request(b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n");
    let v2 = with_request(&v2_tcp4(
        Ipv4Addr::new(203, 0, 113, 7),
        Ipv4Addr::new(10, 0, 0, 1),
        51234,
        80,
    ));
    // Required: an untrusted peer is closed before anything is read.
    for bytes in [&v1, &v2] {
        assert_eq!(exchange("127.0.0.2", gw.addr("req"), bytes).await, "");
    }
    let out = exchange("127.0.0.2", gw.addr("req"), REQUEST).await;
    assert_eq!(out, "");
    // Optional: its bytes are HTTP, and a PROXY line is a bad request.
    let out = exchange("127.0.0.2", gw.addr("opt"), &v1).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    let out = exchange("127.0.0.2", gw.addr("opt"), &v2).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(up.count(), 0, "a spoofed request reached the upstream");
    // Its plain requests are served under its own address.
    let out = exchange("127.0.0.2", gw.addr("opt"), REQUEST).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(up.seen()[0].headers["x-real-ip"], "127.0.0.2");
    for line in gw.access_log() {
        assert!(!line.contains("203.0.113.7"), "{line}");
    }
}
