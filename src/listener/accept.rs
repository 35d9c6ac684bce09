//! The accept loop of one listener: accept, read the PROXY header, apply the
//! connection guards, and hand the connection to the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::compile::ListenerRuntime;
use crate::config::spec::ProxyProtocolMode;
use crate::guard::conn_limit::{ConnCounter, ConnPermit};
use crate::guard::framing::{FramingGuard, FramingLimits, Violation};
use crate::guard::h2_flood::H2FloodGuard;
use crate::http::server;
use crate::listener::client_ip::PeerAddr;
use crate::listener::drain::{Drain, signalled};
use crate::listener::proxy_protocol::read_proxy_header;
use crate::pipeline::ConnectionInfo;

/// A running listener: its live config and the switch that stops it.
#[derive(Debug)]
pub struct RunningListener {
    pub local_addr: SocketAddr,
    /// The configured address string, to tell on reload whether to rebind.
    pub configured: String,
    pub state: Arc<ArcSwap<ListenerRuntime>>,
    stop: watch::Sender<bool>,
}

impl RunningListener {
    /// Stops accepting; connections already accepted run to completion.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the accept loop for `socket`.
pub fn start(
    socket: TcpListener,
    runtime: Arc<ListenerRuntime>,
    drain: Drain,
) -> std::io::Result<RunningListener> {
    let local_addr = socket.local_addr()?;
    let configured = runtime.spec.address.clone();
    let state = Arc::new(ArcSwap::new(runtime));
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(accept_loop(socket, Arc::clone(&state), drain, stop_rx));
    Ok(RunningListener {
        local_addr,
        configured,
        state,
        stop,
    })
}

async fn accept_loop(
    socket: TcpListener,
    state: Arc<ArcSwap<ListenerRuntime>>,
    drain: Drain,
    mut stop: watch::Receiver<bool>,
) {
    let mut draining = drain.subscribe();
    // Open-connection counts outlive config generations.
    let counter = Arc::new(ConnCounter::default());
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            _ = signalled(&mut stop) => break,
            _ = signalled(&mut draining) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                // The global limit is checked before the task or a byte is read.
                let Some(permit) = counter.admit(&state.load().conn_policy) else {
                    drop(stream);
                    refuse_connection(&state, peer, false);
                    continue;
                };
                let state = Arc::clone(&state);
                let drain = drain.clone();
                tokio::spawn(handle_connection(stream, peer, state, drain, permit));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // instead of spinning on the error.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn handle_connection(
    mut stream: TcpStream,
    tcp_peer: SocketAddr,
    state: Arc<ArcSwap<ListenerRuntime>>,
    drain: Drain,
    mut permit: ConnPermit,
) {
    let runtime = state.load_full();
    // Counted from accept to close, whatever happens in between.
    let _active = runtime.metrics.connection();
    let _ = stream.set_nodelay(true);
    let mode = runtime.spec.proxy_protocol;
    let mut peer = tcp_peer;
    if mode != ProxyProtocolMode::Off {
        match read_proxy_header(
            &mut stream,
            mode,
            tcp_peer,
            &runtime.trusted,
            runtime.spec.http.head_timeout,
        )
        .await
        {
            Ok(Some(source)) => peer = source,
            Ok(None) => {}
            Err(e) => {
                tracing::info!(listener = %runtime.name, peer = %tcp_peer, reason = "proxy_protocol", error = %e, "connection refused");
                return;
            }
        }
    }
    // Per client IP: after the PROXY header, which names the real client.
    if !permit.bind_ip(peer.ip(), &runtime.conn_policy) {
        drop(stream);
        refuse_connection(&state, peer, true);
        return;
    }
    let tls = runtime.tls.clone();
    let proxied_by = (peer != tcp_peer).then_some(tcp_peer);
    let limits = FramingLimits {
        max_head_bytes: runtime.spec.http.max_head_bytes,
        max_headers: runtime.spec.http.max_headers,
        head_timeout: runtime.spec.http.head_timeout,
    };
    let log = runtime.access_log.clone();
    let listener = Arc::clone(&runtime.name);
    let peer_trusted = runtime.trusted.is_trusted(peer.ip());
    drop(runtime);
    let served = Served {
        state,
        drain,
        limits,
        log,
        listener,
        peer,
    };
    // TLS comes after the PROXY header (which a load balancer sends in
    // clear) and before the framing guard, which must judge plaintext.
    match tls {
        None => {
            let conn = ConnectionInfo {
                peer: PeerAddr(peer),
                proxied_by,
                peer_trusted,
                proto: "http",
                tls: None,
            };
            // Until the client's first bytes arrive the task holds only the
            // socket: the HTTP connection's state (several KiB) is built then,
            // boxed, so a connection opened and left silent stays small. The
            // head deadline still runs from here: past it the guard answers
            // 408 at its first read, as if it had been waiting all along.
            let since = tokio::time::Instant::now();
            let mut draining = served.drain.subscribe();
            // `peek`, not `readable`: tokio reports a new socket readable
            // before any byte (it cannot know), and peeking consumes nothing.
            let mut probe = [0u8; 1];
            let first_bytes =
                tokio::time::timeout(served.limits.head_timeout, stream.peek(&mut probe));
            tokio::select! {
                _ = first_bytes => {}
                // Draining: a connection that never sent a byte just closes.
                _ = signalled(&mut draining) => return,
            }
            drop(draining);
            Box::pin(served.serve(stream, conn, since)).await;
        }
        // Boxed: the TLS handshake and TLS stream states are large, and an
        // inline branch would make every plain connection's task as big.
        Some(tls) => {
            Box::pin(async move {
                match tls.accept(stream).await {
                    Ok((stream, facts)) => {
                        let conn = ConnectionInfo {
                            peer: PeerAddr(peer),
                            proxied_by,
                            peer_trusted,
                            proto: "https",
                            tls: Some(Arc::new(facts)),
                        };
                        served.serve(stream, conn, tokio::time::Instant::now()).await;
                    }
                    Err(error) => {
                        tracing::info!(listener = %served.listener, peer = %tcp_peer, reason = "tls_handshake", %error, "connection refused");
                    }
                }
            })
            .await
        }
    }
    // The connection's place is held until here.
    drop(permit);
}

/// Logs a connection closed for being over a connection limit (status 0:
/// no HTTP answer was written).
fn refuse_connection(state: &ArcSwap<ListenerRuntime>, peer: SocketAddr, per_ip: bool) {
    let runtime = state.load();
    runtime.metrics.refused(per_ip);
    tracing::debug!(listener = %runtime.name, peer = %peer, reason = "conn_limit", "connection refused");
    runtime
        .access_log
        .refusal(&runtime.name, PeerAddr(peer), 0, "conn_limit");
}

/// What serving a connection needs once the transport is settled.
struct Served {
    state: Arc<ArcSwap<ListenerRuntime>>,
    drain: Drain,
    limits: FramingLimits,
    log: crate::observe::access_log::AccessLog,
    listener: Arc<str>,
    peer: SocketAddr,
}

impl Served {
    /// Serves HTTP on `stream`, whose first request head has been awaited
    /// since `since`.
    async fn serve<IO>(self, stream: IO, conn: ConnectionInfo, since: tokio::time::Instant)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Served {
            state,
            drain,
            limits,
            log,
            listener,
            peer,
        } = self;
        let guard = FramingGuard::awaiting_since(stream, limits, since);
        let violation = guard.violation_handle();
        let control_frames = state.load().spec.http.h2_max_control_frames_per_second;
        let guard = H2FloodGuard::new(guard, control_frames, violation.clone());
        server::serve(guard, state, conn, drain).await;
        // Requests refused on their raw bytes never reached the pipeline; log
        // them here so every refusal leaves a record.
        if let Some(v) = violation.get() {
            tracing::debug!(listener = %listener, peer = %peer, reason = v.as_str(), "request refused: malformed framing");
            let status = match v {
                Violation::HeadTimeout => 408,
                // Closed with GOAWAY: no HTTP answer.
                Violation::H2ControlFlood => 0,
                _ => 400,
            };
            log.refusal(&listener, PeerAddr(peer), status, v.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::{TcpListener, TcpStream};

    /// The silent-connection wait relies on this: `peek` on an accepted
    /// socket pends until the client's first byte, and consumes nothing.
    #[tokio::test]
    async fn peek_waits_for_the_first_byte() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut probe = [0u8; 1];
        let silent = tokio::time::timeout(Duration::from_millis(200), server.peek(&mut probe));
        assert!(silent.await.is_err(), "peek returned before any byte");
        client.write_all(b"G").await.unwrap();
        let peeked = tokio::time::timeout(Duration::from_secs(5), server.peek(&mut probe));
        assert_eq!(peeked.await.unwrap().unwrap(), 1);
        let mut read = [0u8; 1];
        server.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"G");
    }
}
