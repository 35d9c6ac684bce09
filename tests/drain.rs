//! Graceful drain on SIGTERM: in-flight requests finish, new connections are
//! refused, and the grace period bounds the wait.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Gateway, WAIT};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use nix::sys::signal::Signal;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::block_in_place;

/// An upstream that reports each request as it arrives and answers only
/// once the test releases it.
struct HeldUpstream {
    addr: SocketAddr,
    arrived: mpsc::UnboundedReceiver<String>,
    release: watch::Sender<bool>,
}

async fn held_upstream() -> HeldUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let (release, release_rx) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let arrived_tx = arrived_tx.clone();
            let release_rx = release_rx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let arrived_tx = arrived_tx.clone();
                    let mut release_rx = release_rx.clone();
                    async move {
                        let _ = arrived_tx.send(req.uri().path().to_string());
                        let _ = release_rx.wait_for(|released| *released).await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                            b"finally",
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    HeldUpstream {
        addr,
        arrived,
        release,
    }
}

fn config(upstream: SocketAddr, grace: &str) -> String {
    format!(
        "admin: {{address: 127.0.0.1:0}}\n\
         server: {{shutdown_grace: {grace}}}\n\
         listeners:\n  - name: web\n    address: 127.0.0.1:0\n\
         backends:\n  - name: slow\n    endpoints: [{{address: \"{upstream}\"}}]\n\
         routes:\n  - name: all\n    match:\n      path: {{prefix: /}}\n    backend: slow\n"
    )
}

/// One request on its own connection; `Err` when the exchange breaks.
async fn request(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

async fn wait_refused(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "{addr} still accepts after SIGTERM: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits_zero() {
    let mut up = held_upstream().await;
    let mut gw = Gateway::start(&config(up.addr, "10s"));
    let addr = gw.addr("web");

    let in_flight = tokio::spawn(request(addr, "/slow"));
    let arrived = tokio::time::timeout(WAIT, up.arrived.recv())
        .await
        .expect("upstream got the request");
    assert_eq!(arrived.as_deref(), Some("/slow"));

    gw.signal(Signal::SIGTERM);
    block_in_place(|| gw.wait_log("draining"));
    wait_refused(addr).await;
    // Still draining: the held request keeps the process alive.
    assert_eq!(
        gw.wait_exit(Duration::ZERO),
        None,
        "exited before the in-flight request finished"
    );

    up.release.send(true).expect("release");
    let reply = tokio::time::timeout(WAIT, in_flight)
        .await
        .expect("in-flight request finished")
        .expect("join");
    assert_eq!(reply, Ok((200, "finally".to_string())));

    let code = block_in_place(|| gw.wait_exit(WAIT));
    assert_eq!(code, Some(0), "logs:\n{}", gw.logs().join("\n"));
    assert!(gw.logs().iter().any(|l| l.contains("drained; exiting")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_period_bounds_a_stuck_request() {
    let mut up = held_upstream().await;
    let mut gw = Gateway::start(&config(up.addr, "1s"));
    let addr = gw.addr("web");

    let stuck = tokio::spawn(request(addr, "/stuck"));
    tokio::time::timeout(WAIT, up.arrived.recv())
        .await
        .expect("upstream got the request");

    let signalled = Instant::now();
    gw.signal(Signal::SIGTERM);
    let code = block_in_place(|| gw.wait_exit(Duration::from_secs(10)));
    let took = signalled.elapsed();
    // Documented behaviour: after the grace period the gateway gives up on
    // the stuck request, logs a warning and exits successfully.
    assert_eq!(code, Some(0), "logs:\n{}", gw.logs().join("\n"));
    assert!(
        took >= Duration::from_millis(900),
        "exited before the grace period: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "grace 1s, exit took {took:?}"
    );
    assert!(gw.logs().iter().any(|l| l.contains("grace period over")));

    // The client's exchange was cut, not answered.
    let result = tokio::time::timeout(WAIT, stuck)
        .await
        .expect("client noticed")
        .expect("join");
    assert!(result.is_err(), "stuck request got an answer: {result:?}");
    drop(up.release);
}
