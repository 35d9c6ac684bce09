//! Serve one client connection with hyper (HTTP/1.1 and h2c), with the
//! listener's protocol limits, until it ends or the gateway drains.

use std::convert::Infallible;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::compile::ListenerRuntime;
use crate::config::spec::HttpSpec;
use crate::guard::idle::{Activity, ActivityIo, expired};
use crate::listener::drain::Drain;
use crate::pipeline::{self, ConnectionInfo};

/// A hyper connection builder configured from a listener's `http` spec.
pub fn builder(spec: &HttpSpec) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // Deadline for a complete request head: the slowloris defence.
        .header_read_timeout(spec.head_timeout)
        // hyper answers 431 past these; its buffer floor is 8 KiB.
        .max_buf_size(spec.max_head_bytes.max(8192))
        .max_headers(spec.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(spec.h2_max_concurrent_streams)
        .max_header_list_size(spec.h2_max_header_list_bytes)
        // Rapid-reset defence: streams the client resets before we answer
        // are counted, and the connection is closed past this many.
        .max_pending_accept_reset_streams(spec.h2_max_pending_resets)
        .max_local_error_reset_streams(Some(1024));
    builder
}

/// Serves `io` until the client is done, or until `drain` asks connections
/// to finish their in-flight requests and close.
pub async fn serve<IO>(
    io: IO,
    state: Arc<ArcSwap<ListenerRuntime>>,
    conn: ConnectionInfo,
    drain: Drain,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (builder, limits) = {
        let runtime = state.load();
        (
            builder(&runtime.spec.http),
            runtime.spec.connections.clone(),
        )
    };
    let peer = conn.peer.0;
    let max_requests = limits.max_requests.unwrap_or(u64::MAX);
    let served = Arc::new(AtomicU64::new(0));
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        // One snapshot per request: a reload never changes a request midway.
        let listener = state.load_full();
        // A clone is a copy plus, on TLS, one reference count.
        let conn = conn.clone();
        let served = Arc::clone(&served);
        async move {
            let http1 = req.version() <= hyper::Version::HTTP_11;
            // Boxed once: the pipeline's state machine is large, and hyper
            // moves the service future it is handed.
            let mut response = Box::pin(pipeline::handle(listener, &conn, req)).await;
            // The last request a keep-alive connection may carry: tell the
            // client, and hyper closes after this response.
            if http1 && served.fetch_add(1, Ordering::Relaxed) + 1 >= max_requests {
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(response)
        }
    });
    let activity = Activity::new(limits.idle_timeout.is_some());
    let io = ActivityIo::new(io, Arc::clone(&activity));
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let _hold = drain.hold();
    let mut draining = drain.subscribe();
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = crate::listener::drain::signalled(&mut draining) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        // Idle or too old: finish what is in progress, then close.
        _ = expired(&activity, limits.idle_timeout, limits.max_age) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}
