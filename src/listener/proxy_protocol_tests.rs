//! Tests for `proxy_protocol` over real loopback connections.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::net::cidr_table::parse_cidr;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
const LONG: Duration = Duration::from_secs(5);

fn trusting(cidrs: &[&str]) -> TrustedProxies {
    let mut t = TrustedProxies::default();
    for c in cidrs {
        t.table.insert(parse_cidr(c).unwrap(), ());
    }
    t
}

fn loopback() -> TrustedProxies {
    trusting(&["127.0.0.0/8"])
}

/// A connected (client, server, peer-as-seen-by-server) triple.
async fn pair() -> (TcpStream, TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    (client, server, peer)
}

/// Everything left on the server side after the client closes.
async fn rest(mut client: TcpStream, server: &mut TcpStream) -> Vec<u8> {
    client.shutdown().await.unwrap();
    let mut out = Vec::new();
    server.read_to_end(&mut out).await.unwrap();
    out
}

/// Sends `bytes` in one write and closes the client's write side (so
/// truncated input ends in EOF rather than a stall), then runs the reader and
/// returns what it left on the socket.
async fn run(
    bytes: &[u8],
    mode: ProxyProtocolMode,
    trusted: &TrustedProxies,
) -> (Result<Option<SocketAddr>, ProxyProtocolError>, Vec<u8>) {
    let (mut client, mut server, peer) = pair().await;
    client.write_all(bytes).await.unwrap();
    client.shutdown().await.unwrap();
    let got = read_proxy_header(&mut server, mode, peer, trusted, LONG).await;
    let mut left = Vec::new();
    server.read_to_end(&mut left).await.unwrap();
    (got, left)
}

fn v2_header(ver_cmd: u8, fam_proto: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut h = v2::PROTOCOL_PREFIX.to_vec();
    h.push(ver_cmd);
    h.push(fam_proto);
    let len = u16::try_from(addresses.len() + tlvs.len()).unwrap();
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(addresses);
    h.extend_from_slice(tlvs);
    h
}

fn v2_ipv4() -> Vec<u8> {
    v2_header(
        0x21,
        0x11,
        &[192, 0, 2, 1, 10, 0, 0, 1, 0x16, 0x2e, 0, 80],
        &[],
    )
}

fn with_request(header: &[u8]) -> Vec<u8> {
    [header, REQUEST].concat()
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[tokio::test]
async fn v1_tcp4_leaves_the_request_unread() {
    let bytes = with_request(b"PROXY TCP4 192.0.2.1 10.0.0.1 5678 80\r\n");
    let (got, left) = run(&bytes, ProxyProtocolMode::Required, &loopback()).await;
    assert_eq!(got.unwrap(), addr("192.0.2.1:5678"));
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v1_tcp6() {
    let bytes = with_request(b"PROXY TCP6 2001:db8::1 2001:db8::2 4430 443\r\n");
    let (got, left) = run(&bytes, ProxyProtocolMode::Optional, &loopback()).await;
    assert_eq!(got.unwrap(), addr("[2001:db8::1]:4430"));
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v1_unknown_is_none_but_consumed() {
    let bytes = with_request(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
    let (got, left) = run(&bytes, ProxyProtocolMode::Required, &loopback()).await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v2_ipv4_leaves_the_request_unread() {
    let (got, left) = run(
        &with_request(&v2_ipv4()),
        ProxyProtocolMode::Required,
        &loopback(),
    )
    .await;
    assert_eq!(got.unwrap(), addr("192.0.2.1:5678"));
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v2_ipv6() {
    let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::8".parse().unwrap();
    let mut a = src.octets().to_vec();
    a.extend_from_slice(&dst.octets());
    a.extend_from_slice(&[0x01, 0xbb, 0x00, 0x50]);
    let (got, left) = run(
        &with_request(&v2_header(0x21, 0x21, &a, &[])),
        ProxyProtocolMode::Required,
        &loopback(),
    )
    .await;
    assert_eq!(got.unwrap(), addr("[2001:db8::7]:443"));
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v2_with_tlvs_skips_them() {
    // ALPN "h2", an AWS-style custom TLV, and a NOOP.
    let tlvs = [
        &[0x01, 0x00, 0x02][..],
        b"h2",
        &[0xea, 0x00, 0x05, 0x01],
        b"vpce",
        &[0x04, 0x00, 0x01, 0x00],
    ]
    .concat();
    let header = v2_header(
        0x21,
        0x11,
        &[198, 51, 100, 9, 10, 0, 0, 1, 0, 1, 0, 80],
        &tlvs,
    );
    let (got, left) = run(
        &with_request(&header),
        ProxyProtocolMode::Required,
        &loopback(),
    )
    .await;
    assert_eq!(got.unwrap(), addr("198.51.100.9:1"));
    assert_eq!(left, REQUEST);
}

#[tokio::test]
async fn v2_local_is_none_but_consumed() {
    let (got, left) = run(
        &with_request(&v2_header(0x20, 0x00, &[], &[])),
        ProxyProtocolMode::Required,
        &loopback(),
    )
    .await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, REQUEST);
}

/// Writes `bytes` in two parts with a pause between, so the reader sees a
/// partial header first.
async fn run_split(bytes: &[u8], at: usize) -> (Option<SocketAddr>, Vec<u8>) {
    let (mut client, mut server, peer) = pair().await;
    client.set_nodelay(true).unwrap();
    let trusted = loopback();
    let (first, second) = bytes.split_at(at);
    let writer = async {
        client.write_all(first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.write_all(second).await.unwrap();
        client
    };
    let reader = read_proxy_header(
        &mut server,
        ProxyProtocolMode::Required,
        peer,
        &trusted,
        LONG,
    );
    let (client, got) = tokio::join!(writer, reader);
    let left = rest(client, &mut server).await;
    (got.unwrap(), left)
}

#[tokio::test]
async fn header_split_across_writes() {
    let v1 = with_request(b"PROXY TCP4 192.0.2.1 10.0.0.1 5678 80\r\n");
    let v2 = with_request(&v2_ipv4());
    // Inside the v1 signature, inside the v1 line, between CR and LF.
    for at in [3, 20, 38] {
        let (got, left) = run_split(&v1, at).await;
        assert_eq!(got, addr("192.0.2.1:5678"), "v1 split at {at}");
        assert_eq!(left, REQUEST, "v1 split at {at}");
    }
    // Inside the v2 signature, inside the fixed part, inside the addresses.
    for at in [5, 14, 20] {
        let (got, left) = run_split(&v2, at).await;
        assert_eq!(got, addr("192.0.2.1:5678"), "v2 split at {at}");
        assert_eq!(left, REQUEST, "v2 split at {at}");
    }
}

#[tokio::test]
async fn untrusted_peer() {
    let elsewhere = trusting(&["10.0.0.0/8"]);
    let bytes = with_request(b"PROXY TCP4 192.0.2.1 10.0.0.1 5678 80\r\n");
    let (got, left) = run(&bytes, ProxyProtocolMode::Required, &elsewhere).await;
    assert!(
        matches!(got, Err(ProxyProtocolError::UntrustedPeer(_))),
        "{got:?}"
    );
    assert_eq!(left, bytes, "nothing read from an untrusted peer");
    let (got, left) = run(&bytes, ProxyProtocolMode::Optional, &elsewhere).await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, bytes, "nothing read from an untrusted peer");
}

#[tokio::test]
async fn off_reads_nothing() {
    let bytes = with_request(&v2_ipv4());
    let (got, left) = run(&bytes, ProxyProtocolMode::Off, &loopback()).await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, bytes);
}

#[tokio::test]
async fn missing_header_in_required_mode() {
    let (got, _) = run(REQUEST, ProxyProtocolMode::Required, &loopback()).await;
    assert!(matches!(got, Err(ProxyProtocolError::Missing)), "{got:?}");
    // A bare `PROXY` method without the space is not a header either.
    let (got, _) = run(
        b"PROXYFOO / HTTP/1.1\r\n\r\n",
        ProxyProtocolMode::Required,
        &loopback(),
    )
    .await;
    assert!(matches!(got, Err(ProxyProtocolError::Missing)), "{got:?}");
    // Closed before sending anything.
    let (got, _) = run(b"", ProxyProtocolMode::Required, &loopback()).await;
    assert!(matches!(got, Err(ProxyProtocolError::Missing)), "{got:?}");
}

#[tokio::test]
async fn optional_mode_passes_plain_http() {
    let (got, left) = run(REQUEST, ProxyProtocolMode::Optional, &loopback()).await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, REQUEST);
    // Starts like the v2 signature (CRLF) but diverges: still plain bytes.
    let odd = b"\r\nGET / HTTP/1.1\r\n\r\n";
    let (got, left) = run(odd, ProxyProtocolMode::Optional, &loopback()).await;
    assert_eq!(got.unwrap(), None);
    assert_eq!(left, odd);
    let (got, _) = run(b"", ProxyProtocolMode::Optional, &loopback()).await;
    assert_eq!(got.unwrap(), None);
}

#[tokio::test]
async fn malformed_headers() {
    let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
    let mut bad_version = v2_ipv4();
    bad_version[12] = 0x11;
    let mut short_len = v2_ipv4();
    short_len[15] = 4; // IPv4 needs 12 address bytes
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bad address",
            b"PROXY TCP4 192.0.2.999 10.0.0.1 1 2\r\n".to_vec(),
        ),
        ("v6 in tcp4", b"PROXY TCP4 ::1 ::2 1 2\r\n".to_vec()),
        (
            "missing port",
            b"PROXY TCP4 192.0.2.1 10.0.0.1 1\r\n".to_vec(),
        ),
        ("bare LF", b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\n".to_vec()),
        ("stray CR", b"PROXY UNKNOWN\rX\r\n".to_vec()),
        (
            "bad protocol",
            b"PROXY UDP4 192.0.2.1 10.0.0.1 1 2\r\n".to_vec(),
        ),
        ("too long", long),
        ("eof in v1", b"PROXY TCP4 192.0".to_vec()),
        ("v2 version", bad_version),
        ("v2 length", short_len),
        ("eof in v2", v2_ipv4()[..20].to_vec()),
    ];
    for (name, bytes) in cases {
        for mode in [ProxyProtocolMode::Required, ProxyProtocolMode::Optional] {
            let (got, _) = run(&bytes, mode, &loopback()).await;
            assert!(
                matches!(got, Err(ProxyProtocolError::Malformed(_))),
                "{name} ({mode:?}): {got:?}"
            );
        }
    }
}

#[tokio::test]
async fn timeout_when_nothing_arrives() {
    for mode in [ProxyProtocolMode::Required, ProxyProtocolMode::Optional] {
        let (_client, mut server, peer) = pair().await;
        let started = std::time::Instant::now();
        let got = read_proxy_header(
            &mut server,
            mode,
            peer,
            &loopback(),
            Duration::from_millis(200),
        )
        .await;
        assert!(
            matches!(got, Err(ProxyProtocolError::Timeout)),
            "{mode:?}: {got:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[tokio::test]
async fn timeout_on_a_stalled_partial_header() {
    let (mut client, mut server, peer) = pair().await;
    client.write_all(b"PROXY TCP4 192.0.2.1").await.unwrap();
    let got = read_proxy_header(
        &mut server,
        ProxyProtocolMode::Required,
        peer,
        &loopback(),
        Duration::from_millis(200),
    )
    .await;
    assert!(matches!(got, Err(ProxyProtocolError::Timeout)), "{got:?}");
    // Stalled inside the signature, where the reader polls with back-off.
    let (mut client, mut server, peer) = pair().await;
    client.write_all(b"\r\n\r\n").await.unwrap();
    let got = read_proxy_header(
        &mut server,
        ProxyProtocolMode::Optional,
        peer,
        &loopback(),
        Duration::from_millis(200),
    )
    .await;
    assert!(matches!(got, Err(ProxyProtocolError::Timeout)), "{got:?}");
}
