//! Attack suite, HTTP/2 (h2c prior knowledge): streams past the concurrency
//! limit, a rapid-reset flood, and an oversized header list. Frames are
//! written by hand so the attacks are exact; the gateway must refuse each
//! and keep serving everyone else.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use bytes::Bytes;
use common::attack::*;
use common::*;
use http::Request;
use http_body_util::Full;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A complete GET request header block (HPACK: static-table method and
/// scheme, literal path and authority without indexing).
fn get_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x04, path.len() as u8];
    b.extend_from_slice(path.as_bytes());
    b.extend_from_slice(&[0x01, 1, b'x']);
    b
}

/// The connection start: preface and an empty SETTINGS frame.
fn start() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    frame(&mut out, SETTINGS, 0, 0, &[]);
    out
}

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// The next frame, or `None` at EOF or reset.
async fn read_frame(s: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
    let mut head = [0u8; 9];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

fn error_code(f: &Frame, at: usize) -> u32 {
    u32::from_be_bytes(f.payload[at..at + 4].try_into().unwrap())
}

/// Sends `bytes` from a separate task (the gateway may stop reading) and
/// returns the frames read until `done` says so or the gateway closes;
/// panics after `WAIT`.
async fn attack(addr: SocketAddr, bytes: Vec<u8>, done: impl Fn(&[Frame]) -> bool) -> Vec<Frame> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        // Keep the write half open until the test is done reading.
        wr
    });
    let mut frames = Vec::new();
    let read_all = async {
        while !done(&frames) {
            match read_frame(&mut rd).await {
                Some(f) => frames.push(f),
                None => break,
            }
        }
    };
    tokio::time::timeout(WAIT, read_all)
        .await
        .expect("the gateway answered in time");
    writer.abort();
    frames
}

/// Streams that ended (END_STREAM from the server, or RST_STREAM), with the
/// RST_STREAM error code if reset.
fn ended(frames: &[Frame]) -> HashMap<u32, Option<u32>> {
    let mut out = HashMap::new();
    for f in frames.iter().filter(|f| f.stream != 0) {
        if f.kind == RST_STREAM {
            out.insert(f.stream, Some(error_code(f, 0)));
        } else if f.flags & END_STREAM != 0 {
            out.entry(f.stream).or_insert(None);
        }
    }
    out
}

/// An upstream that accepts connections and never answers.
async fn silent_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// A gateway with `/hang` going to an upstream that never answers (1 s
/// request timeout) and the rest to a recording upstream.
async fn setup_h2(http: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("up").await;
    let hang = silent_upstream().await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
    http: {{ {http} }}
backends:
  - name: hang
    endpoints: [{{ address: "{hang}" }}]
    timeouts: {{ connect: 1s, request: 1s }}
    health: {{ consecutive_failures: 1000 }}
  - name: app
    endpoints: [{{ address: "{}" }}]
routes:
  - name: hang
    match: {{ path: {{ prefix: /hang }} }}
    backend: hang
  - name: all
    match: {{ path: {{ prefix: / }} }}
    backend: app
"#,
        up.addr
    );
    (Gateway::start(&yaml), up)
}

/// Healthy for HTTP/1 (see `assert_healthy`) and for a new h2 client.
async fn assert_healthy_h2(gw: &Gateway, up: &Upstream) {
    assert_healthy(gw, up).await;
    let mut h2 = h2_client(gw.addr("web")).await;
    let req = Request::get("http://x/h2-probe")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = tokio::time::timeout(WAIT, h2.send_request(req))
        .await
        .expect("h2 answer in time")
        .expect("h2 request");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn streams_past_the_limit_are_refused_not_fatal() {
    let (gw, up) = setup_h2("h2_max_concurrent_streams: 4").await;
    let mut bytes = start();
    let ids: Vec<u32> = (0..20).map(|i| 1 + 2 * i).collect();
    for &id in &ids {
        frame(
            &mut bytes,
            HEADERS,
            END_STREAM | END_HEADERS,
            id,
            &get_block("/hang"),
        );
    }
    let want: HashSet<u32> = ids.iter().copied().collect();
    let frames = attack(gw.addr("web"), bytes, |f| {
        ended(f).keys().copied().collect::<HashSet<_>>() == want
    })
    .await;
    let ended = ended(&frames);
    assert_eq!(ended.len(), ids.len(), "every stream got an answer");
    let refused = ended
        .values()
        .filter(|c| **c == Some(REFUSED_STREAM))
        .count();
    // At most 4 were accepted (and got 504 from the silent upstream).
    assert!(refused >= ids.len() - 4, "refused {refused}: {ended:?}");
    assert!(
        !frames.iter().any(|f| f.kind == GOAWAY),
        "the connection itself was not failed"
    );
    assert_healthy_h2(&gw, &up).await;
}

#[tokio::test]
async fn rapid_reset_flood_gets_goaway() {
    let (gw, up) = setup_h2("").await;
    let mut bytes = start();
    for i in 0..1000u32 {
        let id = 1 + 2 * i;
        frame(
            &mut bytes,
            HEADERS,
            END_STREAM | END_HEADERS,
            id,
            &get_block("/rr"),
        );
        frame(&mut bytes, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
    }
    let frames = attack(gw.addr("web"), bytes, |_| false).await;
    let goaway = frames
        .iter()
        .find(|f| f.kind == GOAWAY)
        .expect("GOAWAY before the close");
    assert_eq!(error_code(goaway, 4), ENHANCE_YOUR_CALM);
    // Far fewer than the 1,000 opened streams did any work upstream.
    let worked = up.count();
    assert!(worked < 200, "{worked} requests reached the upstream");
    assert_healthy_h2(&gw, &up).await;
}

#[tokio::test]
async fn oversized_header_list_is_refused() {
    let (gw, up) = setup_h2("h2_max_header_list_bytes: 8192").await;
    let mut h2 = h2_client(gw.addr("web")).await;
    let req = Request::get("http://x/big")
        .header("x-big", "v".repeat(12 * 1024))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let status = match tokio::time::timeout(WAIT, h2.send_request(req))
        .await
        .expect("answer in time")
    {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    };
    assert!(status == 431 || status == 0, "status {status}");
    assert_eq!(up.count(), 0);
    assert_healthy_h2(&gw, &up).await;
}

/// `Content-Length` with `Transfer-Encoding` over HTTP/2: the h2 layer
/// treats any `transfer-encoding` as a malformed request (RFC 9113 §8.2.2)
/// and resets the stream with PROTOCOL_ERROR before the pipeline sees it;
/// nothing reaches the backend, the connection and other streams go on.
#[tokio::test]
async fn h2_content_length_with_transfer_encoding_never_reaches_the_backend() {
    const PROTOCOL_ERROR: u32 = 0x1;
    let (gw, up) = setup_h2("").await;
    let mut block = vec![0x83, 0x86, 0x04, 5];
    block.extend_from_slice(b"/cte1");
    block.extend_from_slice(&[0x01, 1, b'x']);
    // Literals without indexing, new names: content-length: 5,
    // transfer-encoding: chunked.
    for (name, value) in [("content-length", "5"), ("transfer-encoding", "chunked")] {
        block.push(0x00);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    let mut bytes = start();
    frame(&mut bytes, HEADERS, END_HEADERS, 1, &block);
    frame(&mut bytes, 0, END_STREAM, 1, b"hello");
    // A well-formed request after it on the same connection.
    frame(
        &mut bytes,
        HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &get_block("/after"),
    );
    let frames = attack(gw.addr("web"), bytes, |f| ended(f).len() >= 2).await;
    let ended = ended(&frames);
    assert_eq!(ended.get(&1), Some(&Some(PROTOCOL_ERROR)), "stream 1 reset");
    assert_eq!(ended.get(&3), Some(&None), "stream 3 answered");
    assert!(
        up.seen().iter().all(|s| s.uri != "/cte1"),
        "{:?}",
        up.seen()
    );
    assert_healthy_h2(&gw, &up).await;
}
