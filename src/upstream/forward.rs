//! Send one request to an endpoint of a backend: pick, reuse or open a
//! connection, time out, account health, and retry once where it is safe.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, Response};

use crate::http::body::RequestBody;
use crate::http::body_limit::BodyFault;
use crate::upstream::backend::Backend;
use crate::upstream::balance::PickContext;
use crate::upstream::clock;
use crate::upstream::endpoint::{Endpoint, InFlight};
use crate::upstream::h1::body::{Release, UpstreamBody};
use crate::upstream::h1::conn::Connection;
use crate::upstream::h1::exchange::{self, ExchangeError, Outcome, Progress};
use crate::upstream::h1::response::{ResponseFraming, ResponseHead};
use crate::upstream::h2;
use crate::upstream::h2::exchange::{Dial, H2Error};

/// A response head from an endpoint.
#[derive(Debug)]
pub struct Upstreamed {
    pub response: Response<UpstreamBody>,
    /// Set for `101 Switching Protocols`: the connection for the tunnel.
    pub upgraded: Option<Connection>,
    pub endpoint: SocketAddr,
    pub upstream_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// Every endpoint tried refused or did not accept the connection.
    ConnectFailed,
    /// No response head within the request timeout.
    Timeout,
    /// The endpoint broke the exchange (reset, malformed response).
    Protocol,
    /// The client's body broke a listener limit (size or upload rate).
    ClientBody(BodyFault),
}

/// The failure and the endpoint it happened on, for the access log.
#[derive(Debug)]
pub struct Failed {
    pub error: UpstreamError,
    pub endpoint: Option<SocketAddr>,
}

/// The request as the upstream will receive it.
#[derive(Debug)]
pub struct UpstreamRequest<'a> {
    pub method: &'a Method,
    /// Origin-form target: the normalised path and the query.
    pub target: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The route's timeout for one attempt, replacing the backend's
    /// `timeouts.request`.
    pub attempt_timeout: Option<std::time::Duration>,
    /// The route's deadline for the whole forward (every attempt).
    pub deadline: Option<Instant>,
}

/// Forwards the request to `backend`.
pub async fn forward(
    backend: &Backend,
    request: UpstreamRequest<'_>,
    body: RequestBody,
    hash_key: Option<u64>,
) -> Result<Upstreamed, Failed> {
    // One set for the whole request, retry included.
    let set = backend.endpoints();
    let first = set
        .balancer
        .pick(
            &set.endpoints,
            PickContext {
                hash_key,
                exclude: None,
                now_ms: clock::now_ms(),
            },
        )
        .ok_or(Failed {
            error: UpstreamError::ConnectFailed,
            endpoint: None,
        })?;
    // Only requests that can be replayed exactly move to another endpoint
    // after a connect failure: idempotent, with no body.
    let replayable = backend.spec.retry_on_connect_failure
        && is_idempotent(request.method)
        && http_body::Body::is_end_stream(&body);

    match attempt(backend, &set.endpoints[first], &request, body).await {
        Err(Failed {
            error: UpstreamError::ConnectFailed,
            endpoint,
        }) if replayable => {
            let second = set.balancer.pick(
                &set.endpoints,
                PickContext {
                    hash_key,
                    exclude: Some(first),
                    now_ms: clock::now_ms(),
                },
            );
            match second {
                Some(second) => {
                    attempt(
                        backend,
                        &set.endpoints[second],
                        &request,
                        RequestBody::Empty,
                    )
                    .await
                }
                None => Err(Failed {
                    error: UpstreamError::ConnectFailed,
                    endpoint,
                }),
            }
        }
        other => other,
    }
}

pub(crate) async fn attempt(
    backend: &Backend,
    endpoint: &Endpoint,
    request: &UpstreamRequest<'_>,
    body: RequestBody,
) -> Result<Upstreamed, Failed> {
    let fail = |error| Failed {
        error,
        endpoint: Some(endpoint.address),
    };
    let release = Release {
        pool: endpoint.pool.clone(),
    };
    let timeouts = &backend.spec.timeouts;
    let mut attempt_timeout = request.attempt_timeout.unwrap_or(timeouts.request);
    if let Some(deadline) = request.deadline {
        attempt_timeout = attempt_timeout.min(deadline.saturating_duration_since(Instant::now()));
    }

    let in_flight = InFlight::start(endpoint);
    // On the stack for HTTP/1.1; shared with hyper's connection task (which
    // polls the body) for HTTP/2.
    let local = Progress::default();
    let shared = backend
        .spec
        .protocol
        .is_h2()
        .then(|| Arc::new(Progress::default()));
    let progress: &Progress = shared.as_deref().unwrap_or(&local);
    let started = Instant::now();
    let exchanged = async {
        match &shared {
            Some(shared) => h2_attempt(backend, endpoint, request, body, shared).await,
            None => h1_attempt(backend, endpoint, request, body, release, progress).await,
        }
    };
    let result = tokio::time::timeout(attempt_timeout, exchanged).await;
    let upstream_ms = started.elapsed().as_secs_f64() * 1000.0;

    let error = match result {
        Ok(Ok(outcome)) => {
            let (head, body, upgraded) = match outcome {
                Outcome::Response(head, mut body) => {
                    body.count_in_flight(in_flight);
                    (head, body, None)
                }
                Outcome::Upgraded(head, conn) => (head, UpstreamBody::empty(), Some(conn)),
            };
            if matches!(head.status.as_u16(), 502..=504) {
                endpoint
                    .health
                    .record_failure(clock::now_ms(), &backend.health);
            } else {
                endpoint.health.record_success();
            }
            let mut response = Response::new(body);
            *response.status_mut() = head.status;
            *response.headers_mut() = head.headers;
            return Ok(Upstreamed {
                response,
                upgraded,
                endpoint: endpoint.address,
                upstream_ms,
            });
        }
        // The client's fault, not the endpoint's: no mark against its health.
        Ok(Err(UpstreamError::ClientBody(fault))) => {
            return Err(fail(UpstreamError::ClientBody(fault)));
        }
        Ok(Err(error)) => error,
        // Out of time while still waiting for the client's body: a slow
        // client, answered 408, and the endpoint did nothing wrong.
        Err(_) if progress.awaiting_client() => {
            return Err(fail(UpstreamError::ClientBody(BodyFault::Idle)));
        }
        Err(_) => UpstreamError::Timeout,
    };
    if endpoint
        .health
        .record_failure(clock::now_ms(), &backend.health)
    {
        tracing::warn!(backend = %backend.name, endpoint = %endpoint.address, "endpoint ejected after consecutive failures");
    }
    Err(fail(error))
}

/// One exchange on an HTTP/1.1 connection: pooled, or fresh.
async fn h1_attempt(
    backend: &Backend,
    endpoint: &Endpoint,
    request: &UpstreamRequest<'_>,
    body: RequestBody,
    release: Release,
    progress: &Progress,
) -> Result<Outcome, UpstreamError> {
    let timeouts = &backend.spec.timeouts;
    let mut body = body;
    // A pooled connection may have been closed by the upstream while idle;
    // such a failure (before any response byte, body untouched) is retried
    // once on a fresh connection and is no mark against the endpoint.
    let mut conn = endpoint.pool.checkout();
    loop {
        let fresh = conn.is_none();
        let c = match conn.take() {
            Some(c) => c,
            None => {
                match Connection::connect(endpoint.address, timeouts.connect, backend.tls.as_ref())
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        warn_tls(backend, endpoint, &e);
                        return Err(UpstreamError::ConnectFailed);
                    }
                }
            }
        };
        match exchange::exchange(
            c,
            request.method,
            request.target,
            request.headers,
            body,
            release.clone(),
            progress,
        )
        .await
        {
            Ok(outcome) => return Ok(outcome),
            Err(failure) => match (failure.error, failure.body) {
                (ExchangeError::Stale, Some(returned)) if !fresh => body = returned,
                (ExchangeError::Stale, _) => return Err(UpstreamError::Protocol),
                (ExchangeError::ClientBody(fault), _) => {
                    return Err(UpstreamError::ClientBody(fault));
                }
                (ExchangeError::Protocol(reason), _) => {
                    tracing::debug!(backend = %backend.name, endpoint = %endpoint.address, %reason, "upstream exchange failed");
                    return Err(UpstreamError::Protocol);
                }
            },
        }
    }
}

/// One stream on the endpoint's HTTP/2 connection.
async fn h2_attempt(
    backend: &Backend,
    endpoint: &Endpoint,
    request: &UpstreamRequest<'_>,
    body: RequestBody,
    progress: &Arc<Progress>,
) -> Result<Outcome, UpstreamError> {
    let dial = Dial {
        address: endpoint.address,
        connect_timeout: backend.spec.timeouts.connect,
        tls: backend.tls.as_ref(),
    };
    let exchanged = h2::exchange::exchange(
        &endpoint.h2,
        dial,
        request.method,
        request.target,
        request.headers,
        body,
        progress,
    )
    .await;
    match exchanged {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let head = ResponseHead {
                status: parts.status,
                headers: parts.headers,
                framing: ResponseFraming::Empty,
                keep_alive: true,
            };
            Ok(Outcome::Response(head, UpstreamBody::h2(body)))
        }
        Err(H2Error::Connect(e)) => {
            warn_tls(backend, endpoint, &e);
            Err(UpstreamError::ConnectFailed)
        }
        Err(H2Error::ClientBody(fault)) => Err(UpstreamError::ClientBody(fault)),
        Err(H2Error::Protocol(reason)) => {
            tracing::debug!(backend = %backend.name, endpoint = %endpoint.address, %reason, "upstream h2 exchange failed");
            Err(UpstreamError::Protocol)
        }
    }
}

fn warn_tls(backend: &Backend, endpoint: &Endpoint, e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::InvalidData {
        // Never a silent downgrade: the request fails (502).
        tracing::warn!(backend = %backend.name, endpoint = %endpoint.address, error = %e, "backend TLS handshake failed");
    }
}

pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
