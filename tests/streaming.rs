//! Large bodies stream through the gateway in both directions without being
//! buffered: 1 GiB each way with the gateway's peak RSS under 64 MiB.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Gateway, Upstream};
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 64 * 1024;
const TOTAL: u64 = 1 << 30;
const PEAK_LIMIT_KIB: u64 = 64 * 1024;
/// Generous even for debug builds; release takes a few seconds.
const TRANSFER_LIMIT: Duration = Duration::from_secs(300);

/// A body of `total` bytes made of one shared 64 KiB chunk, produced lazily.
fn generated(
    total: u64,
) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>>> {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let chunks = total / CHUNK as u64;
    assert_eq!(chunks * CHUNK as u64, total);
    StreamBody::new(stream::iter(
        (0..chunks).map(move |_| Ok(Frame::data(chunk.clone()))),
    ))
}

fn config(upstream: SocketAddr) -> String {
    format!(
        "admin: {{address: 127.0.0.1:0}}\n\
         listeners:\n  - name: web\n    address: 127.0.0.1:0\n\
         backends:\n  - name: bulk\n    endpoints: [{{address: \"{upstream}\"}}]\n\
         routes:\n  - name: all\n    match:\n      path: {{prefix: /}}\n    backend: bulk\n"
    )
}

fn check_peak(gw: &Gateway, what: &str) {
    let (rss, peak) = gw.rss_kib();
    eprintln!("{what}: gateway RSS {rss} KiB, peak {peak} KiB");
    assert!(peak > 0, "could not read the gateway's memory");
    assert!(peak < PEAK_LIMIT_KIB, "{what}: gateway peak RSS {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_upload_streams_through() {
    let up = Upstream::start("sink").await;
    let gw = Gateway::start(&config(up.addr));
    let stream = TcpStream::connect(gw.addr("web")).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::post("/upload")
        .header("host", "example.com")
        .header("content-length", TOTAL.to_string())
        .body(generated(TOTAL))
        .unwrap();

    let started = Instant::now();
    let resp = tokio::time::timeout(TRANSFER_LIMIT, sender.send_request(req))
        .await
        .expect("upload finished in time")
        .expect("upload");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    let took = started.elapsed();
    eprintln!(
        "1 GiB upload: {took:?} ({:.0} MiB/s)",
        1024.0 / took.as_secs_f64()
    );

    assert_eq!(status, 200, "{body:?}");
    let summary: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(summary["body_len"], TOTAL);
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body_len as u64, TOTAL);
    check_peak(&gw, "upload");
}

/// An upstream whose every response is a generated body of `total` bytes.
async fn source_upstream(total: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<Incoming>| async move {
                    let resp = Response::builder()
                        .header("content-length", total.to_string())
                        .body(generated(total))
                        .unwrap();
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_download_streams_through() {
    let upstream = source_upstream(TOTAL).await;
    let gw = Gateway::start(&config(upstream));
    let stream = TcpStream::connect(gw.addr("web")).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/download")
        .header("host", "example.com")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();

    let started = Instant::now();
    let counted = tokio::time::timeout(TRANSFER_LIMIT, async {
        let resp = sender.send_request(req).await.expect("download");
        assert_eq!(resp.status(), 200);
        let declared = resp.headers().get("content-length").cloned();
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            n += frame
                .expect("body frame")
                .data_ref()
                .map_or(0, |d| d.len() as u64);
        }
        (declared, n)
    })
    .await
    .expect("download finished in time");
    let took = started.elapsed();
    eprintln!(
        "1 GiB download: {took:?} ({:.0} MiB/s)",
        1024.0 / took.as_secs_f64()
    );

    assert_eq!(counted.1, TOTAL);
    assert_eq!(
        counted.0.as_ref().and_then(|v| v.to_str().ok()),
        Some(TOTAL.to_string().as_str())
    );
    check_peak(&gw, "download");
}
