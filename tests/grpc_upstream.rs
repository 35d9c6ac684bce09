//! gRPC and HTTP/2 backends end to end: a real `tonic` gRPC server behind
//! the gateway (h2c prior knowledge), a real `tonic` client in front.
//! Unary, server streaming and bidirectional streaming; trailers with a
//! status after messages; deadlines (the backend's timeout and the client's
//! `grpc-timeout`); gRPC statuses for answers the gateway writes itself;
//! one multiplexed connection per endpoint, re-dialled after a GOAWAY.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use common::*;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};

// ---- a codec for raw bytes: no protobuf, no code generation ----

#[derive(Clone, Copy, Default)]
struct Raw;

struct RawEncoder;
struct RawDecoder;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

// ---- the gRPC server: service `test.Echo` ----

type Reply<T> = Pin<Box<dyn Future<Output = Result<tonic::Response<T>, Status>> + Send>>;
type Messages = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send>>;

/// `Unary`: echoes the message with the `x-who` metadata it received and
/// whether `te: trailers` arrived. `Slow`: answers after 3 s.
struct Unary {
    slow: bool,
}

impl tonic::server::UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = Reply<Bytes>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let slow = self.slow;
        Box::pin(async move {
            if slow {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let who = request
                .metadata()
                .get("x-who")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            let mut out = b"echo:".to_vec();
            out.extend_from_slice(request.get_ref());
            out.extend_from_slice(format!(" who={who}").as_bytes());
            Ok(tonic::Response::new(Bytes::from(out)))
        })
    }
}

/// `Count`: `n` messages (`n` is the request), then ABORTED with trailing
/// metadata, so the status and metadata travel in trailers after data.
struct Count;

impl tonic::server::ServerStreamingService<Bytes> for Count {
    type Response = Bytes;
    type ResponseStream = Messages;
    type Future = Reply<Messages>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        Box::pin(async move {
            let n: usize = std::str::from_utf8(request.get_ref())
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let mut metadata = tonic::metadata::MetadataMap::new();
            metadata.insert("x-trailer", MetadataValue::from_static("kept"));
            let end = Status::with_metadata(Code::Aborted, "counted", metadata);
            let items = (0..n)
                .map(|i| Ok(Bytes::from(format!("item-{i}"))))
                .chain(std::iter::once(Err(end)));
            let stream: Messages = Box::pin(futures_util::stream::iter(items));
            Ok(tonic::Response::new(stream))
        })
    }
}

/// `Upper`: each message back in upper case, as it arrives.
struct Upper;

impl tonic::server::StreamingService<Bytes> for Upper {
    type Response = Bytes;
    type ResponseStream = Messages;
    type Future = Reply<Messages>;
    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        Box::pin(async move {
            let stream: Messages = Box::pin(
                request
                    .into_inner()
                    .map(|m| m.map(|b| Bytes::from(b.to_ascii_uppercase()))),
            );
            Ok(tonic::Response::new(stream))
        })
    }
}

async fn route_grpc(req: hyper::Request<Incoming>) -> hyper::Response<tonic::body::Body> {
    let te = req
        .headers()
        .get("te")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let mut grpc = tonic::server::Grpc::new(Raw);
    let mut response = match req.uri().path() {
        "/test.Echo/Unary" => grpc.unary(Unary { slow: false }, req).await,
        "/test.Echo/Slow" => grpc.unary(Unary { slow: true }, req).await,
        "/test.Echo/Count" => grpc.server_streaming(Count, req).await,
        "/test.Echo/Upper" => grpc.streaming(Upper, req).await,
        _ => Status::unimplemented("no such method").into_http(),
    };
    if let Ok(te) = http::HeaderValue::from_str(&te) {
        response.headers_mut().insert("x-seen-te", te);
    }
    response
}

/// A gRPC server on h2c; `connections` counts accepted TCP connections.
struct GrpcServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    /// Connections not closed yet.
    open: Arc<AtomicUsize>,
    /// Sends every connection a GOAWAY and stops accepting.
    stop: tokio::sync::watch::Sender<bool>,
}

impl GrpcServer {
    async fn start(addr: &str) -> GrpcServer {
        let listener = TcpListener::bind(addr).await.expect("bind grpc server");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let count = Arc::clone(&connections);
        let open = Arc::new(AtomicUsize::new(0));
        let still_open = Arc::clone(&open);
        tokio::spawn(async move {
            let mut accept_stop = stopped.clone();
            loop {
                let (tcp, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => return,
                    },
                    _ = accept_stop.changed() => return,
                };
                count.fetch_add(1, Ordering::SeqCst);
                still_open.fetch_add(1, Ordering::SeqCst);
                let still_open = Arc::clone(&still_open);
                let mut conn_stop = stopped.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req| async move {
                        Ok::<_, Infallible>(route_grpc(req).await)
                    });
                    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                    still_open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        GrpcServer {
            addr,
            connections,
            open,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn gateway_yaml(grpc: SocketAddr, dead: SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: echo
    protocol: grpc
    endpoints: [{{ address: "{grpc}" }}]
    timeouts: {{ request: 800ms }}
  - name: gone
    protocol: grpc
    endpoints: [{{ address: "{dead}" }}]
routes:
  - name: gone
    match: {{ path: {{ prefix: /gone.Svc }} }}
    backend: gone
  - name: echo
    match: {{ path: {{ prefix: /test.Echo }} }}
    backend: echo
    request_headers:
      set: [{{ name: x-who, value: gateway }}]
"#
    )
}

async fn client(gateway: SocketAddr) -> tonic::client::Grpc<Channel> {
    let channel = Channel::from_shared(format!("http://{gateway}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to gateway");
    tonic::client::Grpc::new(channel)
}

async fn unary(
    grpc: &mut tonic::client::Grpc<Channel>,
    path: &'static str,
    message: &'static [u8],
) -> Result<tonic::Response<Bytes>, Status> {
    grpc.ready().await.expect("ready");
    grpc.unary(
        tonic::Request::new(Bytes::from_static(message)),
        http::uri::PathAndQuery::from_static(path),
        Raw,
    )
    .await
}

/// An address nothing listens on.
async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test]
async fn grpc_through_the_gateway() {
    let server = GrpcServer::start("127.0.0.1:0").await;
    let dead = dead_address().await;
    let gw = Gateway::start(&gateway_yaml(server.addr, dead));
    let mut grpc = client(gw.addr("web")).await;

    // Unary: the route's header edit arrives as metadata; `te: trailers`
    // reached the backend.
    let response = unary(&mut grpc, "/test.Echo/Unary", b"hi")
        .await
        .expect("unary call");
    assert_eq!(response.get_ref().as_ref(), b"echo:hi who=gateway");
    assert_eq!(
        response
            .metadata()
            .get("x-seen-te")
            .map(|v| v.to_str().ok()),
        Some(Some("trailers"))
    );

    // Server streaming: three messages, then the status and trailing
    // metadata in trailers.
    grpc.ready().await.expect("ready");
    let response = grpc
        .server_streaming(
            tonic::Request::new(Bytes::from_static(b"3")),
            http::uri::PathAndQuery::from_static("/test.Echo/Count"),
            Raw,
        )
        .await
        .expect("server streaming call");
    let mut stream = response.into_inner();
    let mut items = Vec::new();
    let end = loop {
        match stream.message().await {
            Ok(Some(item)) => items.push(String::from_utf8_lossy(&item).into_owned()),
            Ok(None) => panic!("stream ended without the ABORTED status"),
            Err(status) => break status,
        }
    };
    assert_eq!(items, ["item-0", "item-1", "item-2"]);
    assert_eq!(end.code(), Code::Aborted);
    assert_eq!(end.message(), "counted");
    assert_eq!(
        end.metadata()
            .get("x-trailer")
            .and_then(|v| v.to_str().ok()),
        Some("kept")
    );

    // Bidirectional streaming: each answer arrives before the next
    // message is sent, so both directions stream through the gateway.
    grpc.ready().await.expect("ready");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let outbound = tokio_stream_from(rx);
    let response = grpc
        .streaming(
            tonic::Request::new(outbound),
            http::uri::PathAndQuery::from_static("/test.Echo/Upper"),
            Raw,
        )
        .await
        .expect("bidi call");
    let mut inbound = response.into_inner();
    for word in ["alpha", "beta", "gamma"] {
        tx.send(Bytes::from(word)).await.expect("send");
        let answer = tokio::time::timeout(WAIT, inbound.message())
            .await
            .expect("answer in time")
            .expect("message")
            .expect("not ended");
        assert_eq!(answer, Bytes::from(word.to_ascii_uppercase()));
    }
    drop(tx);
    assert!(matches!(inbound.message().await, Ok(None)));

    // Many calls at once share one connection to the endpoint.
    let calls = (0..20).map(|_| {
        let mut grpc = grpc.clone();
        async move { unary(&mut grpc, "/test.Echo/Unary", b"x").await.is_ok() }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|ok| *ok));
    assert_eq!(
        server.connections(),
        1,
        "one multiplexed connection per endpoint"
    );

    // The backend's timeout: DEADLINE_EXCEEDED from the gateway.
    let started = Instant::now();
    let status = unary(&mut grpc, "/test.Echo/Slow", b"x")
        .await
        .expect_err("times out");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(status.message(), "upstream_timeout");
    assert!(started.elapsed() < Duration::from_millis(2500));

    // No reachable endpoint: UNAVAILABLE; no route: UNIMPLEMENTED.
    let status = unary(&mut grpc, "/gone.Svc/Call", b"x")
        .await
        .expect_err("no endpoint");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let status = unary(&mut grpc, "/nothing.Here/Call", b"x")
        .await
        .expect_err("no route");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl Stream<Item = Bytes> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// One gRPC message frame: uncompressed flag, length, bytes.
fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

#[tokio::test]
async fn the_clients_grpc_timeout_is_the_deadline() {
    let server = GrpcServer::start("127.0.0.1:0").await;
    let dead = dead_address().await;
    let gw = Gateway::start(&gateway_yaml(server.addr, dead));
    // A plain HTTP/2 client, so no client-side timer races the gateway's.
    let mut h2 = h2_client(gw.addr("web")).await;
    let request = http::Request::post("http://gw/test.Echo/Slow")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "200m")
        .body(Full::new(frame(b"x")))
        .expect("request");
    let started = Instant::now();
    let response = h2.send_request(request).await.expect("response");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert_eq!(response.headers()["grpc-status"], "4");
    assert!(
        elapsed < Duration::from_millis(700),
        "answered after {elapsed:?}"
    );
    assert!(response.into_body().collect().await.is_ok());
}

#[tokio::test]
async fn a_goaway_makes_the_gateway_dial_again() {
    let server = GrpcServer::start("127.0.0.1:0").await;
    let dead = dead_address().await;
    let gw = Gateway::start(&gateway_yaml(server.addr, dead));
    let mut grpc = client(gw.addr("web")).await;
    unary(&mut grpc, "/test.Echo/Unary", b"one")
        .await
        .expect("first call");
    assert_eq!(server.connections(), 1);

    // The server sends GOAWAY and goes away; a new one takes its port.
    let addr = server.addr;
    let _ = server.stop.send(true);
    // GOAWAY sent and the connection closed (the gateway saw it end).
    let deadline = Instant::now() + WAIT;
    while server.open.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < deadline, "the old connection never closed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restarted = loop {
        // The old listener closes asynchronously after the stop.
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                drop(listener);
                break GrpcServer::start(&addr.to_string()).await;
            }
            Err(_) => tokio::task::yield_now().await,
        }
    };
    let deadline = Instant::now() + WAIT;
    loop {
        match unary(&mut grpc, "/test.Echo/Unary", b"two").await {
            Ok(response) => {
                assert_eq!(response.get_ref().as_ref(), b"echo:two who=gateway");
                break;
            }
            Err(status) => {
                // Only the moment of the switch may fail, as UNAVAILABLE.
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(Instant::now() < deadline, "never reconnected");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert_eq!(restarted.connections(), 1);
}

/// A TLS server offering only `alpn`; it answers with the HTTP version the
/// request arrived in.
async fn tls_server(leaf: &common::tls::Leaf, alpn: &[&[u8]]) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<_> = CertificateDer::pem_file_iter(&leaf.cert)
        .expect("chain")
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let service =
                    hyper::service::service_fn(|req: hyper::Request<Incoming>| async move {
                        let body = format!("{:?} {}", req.version(), req.uri());
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    });
                let io = TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn h2_over_tls_negotiates_h2_and_never_downgrades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = common::tls::Ca::new(dir.path(), "ca");
    let leaf = ca.leaf(dir.path(), "backend", &["backend.test"]);
    let h2_server = tls_server(&leaf, &[b"h2"]).await;
    let h1_server = tls_server(&leaf, &[b"http/1.1"]).await;
    let tls = format!(
        r#"{{ ca: "{}", server_name: backend.test }}"#,
        ca.path.display()
    );
    let gw = Gateway::start(&format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: h2
    protocol: h2
    tls: {tls}
    endpoints: [{{ address: "{h2_server}" }}]
  - name: h1only
    protocol: h2
    tls: {tls}
    endpoints: [{{ address: "{h1_server}" }}]
routes:
  - name: h1only
    match: {{ path: {{ prefix: /old }} }}
    backend: h1only
  - name: h2
    backend: h2
"#
    ));
    // An HTTP/1.1 client; the backend hop is HTTP/2 over TLS.
    let reply = get(gw.addr("web"), "/a?b=1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "HTTP/2.0 https://example.com/a?b=1");
    // A backend that offers only http/1.1 is refused, not downgraded.
    let reply = get(gw.addr("web"), "/old").await;
    assert_eq!(reply.status, 502, "{}", reply.body);
}
