//! Request mirroring: a copy of a route's request goes to a second backend
//! in its own task, and its answer is read and thrown away.
//!
//! The copy never touches the client's answer or its latency: it is
//! spawned, not awaited; at most `max_in_flight` copies run at once per
//! route (more are dropped and counted, never queued); a request body is
//! copied only up to `max_body_bytes`, as the primary request streams it
//! (shared `Bytes`, no copy of the data), and a longer body drops the copy.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{Semaphore, oneshot};

use crate::config::spec_route::MirrorSpec;
use crate::http::body::RequestBody;
use crate::http::body_limit::RequestBodyError;
use crate::observe::metrics::RouteMetrics;
use crate::upstream::backend::Backend;
use crate::upstream::forward::{self, UpstreamRequest};

/// The largest `max_body_bytes` a mirror may keep per copy.
const MAX_MIRROR_BODY: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Mirror {
    pub backend: Arc<Backend>,
    percent: u32,
    slots: Arc<Semaphore>,
    max_body_bytes: u64,
}

/// The checks of a mirror spec that need no backend (shared by `validate`).
pub fn check(spec: &MirrorSpec) -> Result<(), (String, String)> {
    if !(1..=100).contains(&spec.percent) {
        return Err(("percent".into(), "must be between 1 and 100".into()));
    }
    if !(1..=10_000).contains(&spec.max_in_flight) {
        return Err(("max_in_flight".into(), "must be between 1 and 10000".into()));
    }
    if spec.max_body_bytes > MAX_MIRROR_BODY {
        return Err((
            "max_body_bytes".into(),
            format!("must be at most {MAX_MIRROR_BODY}"),
        ));
    }
    Ok(())
}

impl Mirror {
    pub fn compile(spec: &MirrorSpec, backend: Arc<Backend>) -> Result<Self, (String, String)> {
        check(spec)?;
        Ok(Self {
            backend,
            percent: spec.percent,
            slots: Arc::new(Semaphore::new(spec.max_in_flight as usize)),
            max_body_bytes: spec.max_body_bytes,
        })
    }

    /// Starts the copy of a request about to be forwarded; returns the
    /// body to forward (the same one, or one that copies what it streams).
    pub fn start(
        &self,
        metrics: &Arc<RouteMetrics>,
        request: &UpstreamRequest<'_>,
        body: RequestBody,
        client_ip: crate::listener::client_ip::ClientIp,
    ) -> RequestBody {
        if self.percent < 100 && fastrand::u32(0..100) >= self.percent {
            return body;
        }
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            metrics.mirror("dropped_full");
            return body;
        };
        let (copy, body) = match body.replayable() {
            Some(copy) if copy.size_hint().exact().unwrap_or(u64::MAX) <= self.max_body_bytes => {
                (Copy::Ready(copy), body)
            }
            Some(_) => {
                metrics.mirror("dropped_body");
                return body;
            }
            None if body.size_hint().lower() > self.max_body_bytes => {
                metrics.mirror("dropped_body");
                return body;
            }
            None => {
                let (tx, rx) = oneshot::channel();
                let tee = Tee {
                    inner: body,
                    copied: Vec::new(),
                    len: 0,
                    limit: self.max_body_bytes,
                    done: Some(tx),
                };
                (Copy::Pending(rx), RequestBody::Tee(Box::new(tee)))
            }
        };
        let job = Job {
            backend: Arc::clone(&self.backend),
            method: request.method.clone(),
            target: request.target.to_owned(),
            headers: request.headers.clone(),
            hash_key: self.backend.hash_key(client_ip, request.headers),
            metrics: Arc::clone(metrics),
        };
        tokio::spawn(async move {
            let _permit = permit;
            job.run(copy).await;
        });
        body
    }
}

/// The copy's body: known now, or when the primary request has streamed it.
enum Copy {
    Ready(RequestBody),
    Pending(oneshot::Receiver<Vec<Bytes>>),
}

struct Job {
    backend: Arc<Backend>,
    method: Method,
    target: String,
    headers: HeaderMap,
    hash_key: Option<u64>,
    metrics: Arc<RouteMetrics>,
}

impl Job {
    async fn run(self, copy: Copy) {
        let body = match copy {
            Copy::Ready(body) => body,
            Copy::Pending(rx) => match rx.await {
                Ok(chunks) => {
                    let mut data = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
                    for chunk in chunks {
                        data.extend_from_slice(&chunk);
                    }
                    RequestBody::Buffered {
                        data: Some(data.freeze()),
                        trailers: None,
                    }
                }
                // The body was longer than the bound, or broke off.
                Err(_) => {
                    self.metrics.mirror("dropped_body");
                    return;
                }
            },
        };
        let request = UpstreamRequest {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            attempt_timeout: None,
            deadline: None,
        };
        match forward::forward(&self.backend, request, body, self.hash_key).await {
            Ok(upstreamed) => {
                // Read to the end, so the connection can be reused.
                let mut body = upstreamed.response.into_body();
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        break;
                    }
                }
                self.metrics.mirror("sent");
            }
            Err(failed) => {
                tracing::debug!(backend = %self.backend.name, endpoint = ?failed.endpoint.map(|e: SocketAddr| e.to_string()), error = ?failed.error, "mirrored request failed");
                self.metrics.mirror("failed");
            }
        }
    }
}

/// The primary request's body, keeping a copy (shared `Bytes`) of what it
/// streams for the mirror, up to a bound.
#[derive(Debug)]
pub struct Tee {
    inner: RequestBody,
    copied: Vec<Bytes>,
    len: u64,
    limit: u64,
    /// Dropped (the copy abandoned) when the body outgrows the bound or fails.
    done: Option<oneshot::Sender<Vec<Bytes>>>,
}

impl Tee {
    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(std::mem::take(&mut self.copied));
        }
    }
}

impl Body for Tee {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && this.done.is_some()
                {
                    this.len += data.len() as u64;
                    if this.len > this.limit {
                        this.done = None;
                        this.copied = Vec::new();
                    } else {
                        this.copied.push(data.clone());
                    }
                }
                // Some senders stop polling once the body says it ended.
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Err(_))) => {
                this.done = None;
                this.copied = Vec::new();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
