//! HTTP/2 SETTINGS/PING floods over raw sockets: past
//! `h2_max_control_frames_per_second` the gateway answers GOAWAY with
//! ENHANCE_YOUR_CALM and closes; a client within the limit is served, and
//! the flood leaves a refusal record.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Reads frames until the peer closes; returns (type, payload) of each.
async fn frames_until_close(stream: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut data = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut data)).await;
    let mut out = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        if rest.len() < 9 + len {
            break;
        }
        out.push((rest[3], rest[9..9 + len].to_vec()));
        rest = &rest[9 + len..];
    }
    out
}

const CONFIG: &str = r#"
admin: { address: 127.0.0.1:0 }
listeners:
  - name: web
    address: 127.0.0.1:0
    http: { h2_max_control_frames_per_second: 50 }
routes:
  - name: ok
    direct_response: { body: ok }
"#;

#[tokio::test]
async fn a_ping_flood_gets_goaway_enhance_your_calm() {
    let gw = Gateway::start(CONFIG);
    let addr = gw.addr("web");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut flood = PREFACE.to_vec();
    flood.extend(frame(0x4, 0, 0, &[]));
    for i in 0..500u64 {
        flood.extend(frame(0x6, 0, 0, &i.to_be_bytes()));
    }
    // The gateway may close while the flood is still being written.
    let _ = s.write_all(&flood).await;
    let frames = frames_until_close(&mut s).await;
    let goaway = frames.iter().find(|(kind, _)| *kind == 0x7);
    let Some((_, payload)) = goaway else {
        panic!(
            "no GOAWAY in {:?}",
            frames.iter().map(|f| f.0).collect::<Vec<_>>()
        );
    };
    assert_eq!(&payload[4..8], &11u32.to_be_bytes(), "ENHANCE_YOUR_CALM");
    // Far fewer PING acknowledgements than PINGs were sent.
    let acks = frames.iter().filter(|(kind, _)| *kind == 0x6).count();
    assert!(acks <= 51, "{acks} PING acks");
    let line = gw.wait_access_lines(1).join("\n");
    assert!(line.contains("\"reason\":\"h2_control_flood\""), "{line}");
}

#[tokio::test]
async fn a_settings_flood_gets_goaway_and_normal_clients_are_served() {
    let gw = Gateway::start(CONFIG);
    let addr = gw.addr("web");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut flood = PREFACE.to_vec();
    for _ in 0..200 {
        flood.extend(frame(0x4, 0, 0, &[]));
    }
    let _ = s.write_all(&flood).await;
    let frames = frames_until_close(&mut s).await;
    assert!(
        frames
            .iter()
            .any(|(kind, p)| *kind == 0x7 && p[4..8] == 11u32.to_be_bytes()),
        "{:?}",
        frames.iter().map(|f| f.0).collect::<Vec<_>>()
    );

    // A client with a few pings, within the limit, is served.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut polite = PREFACE.to_vec();
    polite.extend(frame(0x4, 0, 0, &[]));
    for i in 0..10u64 {
        polite.extend(frame(0x6, 0, 0, &i.to_be_bytes()));
    }
    s.write_all(&polite).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    let acks = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed");
            seen.extend_from_slice(&buf[..n]);
            let mut rest = &seen[..];
            let mut acks = 0;
            while rest.len() >= 9 {
                let len =
                    usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
                if rest.len() < 9 + len {
                    break;
                }
                if rest[3] == 0x6 && rest[4] & 1 == 1 {
                    acks += 1;
                }
                assert_ne!(rest[3], 0x7, "GOAWAY for a polite client");
                rest = &rest[9 + len..];
            }
            if acks == 10 {
                return acks;
            }
        }
    })
    .await
    .expect("all PINGs acknowledged");
    assert_eq!(acks, 10);

    let mut h2 = h2_client(addr).await;
    let response = h2
        .send_request(
            http::Request::get("http://example.com/")
                .body(Full::new(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("h2 request");
    assert_eq!(response.status(), 200);
}
