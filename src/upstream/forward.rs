//! Send one request to an endpoint of a backend: pick, connect (pooled),
//! time out, account health, and retry once on a connect failure.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use http::uri::{PathAndQuery, Scheme};
use http::{Method, Request, Response, Uri, Version};
use hyper::body::Incoming;

use crate::http::body::RequestBody;
use crate::upstream::backend::Backend;
use crate::upstream::balance::PickContext;
use crate::upstream::clock;

/// A response head from an endpoint.
#[derive(Debug)]
pub struct Upstreamed {
    pub response: Response<Incoming>,
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
}

/// The failure and the endpoint it happened on, for the access log.
#[derive(Debug)]
pub struct Failed {
    pub error: UpstreamError,
    pub endpoint: Option<SocketAddr>,
}

/// Forwards `parts` + `body` to `backend`. `path_and_query` is what the
/// endpoint receives (the normalised path).
pub async fn forward(
    backend: &Backend,
    mut parts: http::request::Parts,
    body: RequestBody,
    path_and_query: PathAndQuery,
    hash_key: Option<u64>,
) -> Result<Upstreamed, Failed> {
    let now_ms = clock::now_ms();
    let first = backend
        .balancer
        .pick(
            &backend.endpoints,
            PickContext {
                hash_key,
                exclude: None,
                now_ms,
            },
        )
        .ok_or(Failed {
            error: UpstreamError::ConnectFailed,
            endpoint: None,
        })?;

    parts.version = Version::HTTP_11;
    // Only requests that can be replayed exactly are retried: idempotent,
    // with no body. Their head is kept for the second attempt.
    let replay = (backend.spec.retry_on_connect_failure
        && is_idempotent(&parts.method)
        && http_body::Body::is_end_stream(&body))
    .then(|| (parts.method.clone(), parts.headers.clone()));

    match attempt(backend, first, parts, body, &path_and_query).await {
        Err(Failed {
            error: UpstreamError::ConnectFailed,
            ..
        }) if replay.is_some() => {
            let Some((method, headers)) = replay else {
                return Err(Failed {
                    error: UpstreamError::ConnectFailed,
                    endpoint: None,
                });
            };
            let second = backend.balancer.pick(
                &backend.endpoints,
                PickContext {
                    hash_key,
                    exclude: Some(first),
                    now_ms: clock::now_ms(),
                },
            );
            let Some(second) = second else {
                return Err(Failed {
                    error: UpstreamError::ConnectFailed,
                    endpoint: Some(backend.endpoints[first].address),
                });
            };
            let mut retry = Request::new(RequestBody::Empty);
            *retry.method_mut() = method;
            *retry.headers_mut() = headers;
            let (parts, body) = retry.into_parts();
            attempt(backend, second, parts, body, &path_and_query).await
        }
        other => other,
    }
}

async fn attempt(
    backend: &Backend,
    index: usize,
    mut parts: http::request::Parts,
    body: RequestBody,
    path_and_query: &PathAndQuery,
) -> Result<Upstreamed, Failed> {
    let endpoint = &backend.endpoints[index];
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(backend.authorities[index].clone());
    uri.path_and_query = Some(path_and_query.clone());
    parts.uri = Uri::from_parts(uri).map_err(|_| Failed {
        error: UpstreamError::Protocol,
        endpoint: Some(endpoint.address),
    })?;
    parts.version = Version::HTTP_11;
    let request = Request::from_parts(parts, body);

    endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let result = tokio::time::timeout(
        backend.spec.timeouts.request,
        backend.client.request(request),
    )
    .await;
    endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    let upstream_ms = started.elapsed().as_secs_f64() * 1000.0;

    let error = match result {
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            if matches!(status, 502..=504) {
                endpoint
                    .health
                    .record_failure(clock::now_ms(), &backend.health);
            } else {
                endpoint.health.record_success();
            }
            return Ok(Upstreamed {
                response,
                endpoint: endpoint.address,
                upstream_ms,
            });
        }
        Ok(Err(e)) if e.is_connect() => UpstreamError::ConnectFailed,
        Ok(Err(e)) => {
            tracing::debug!(backend = %backend.name, endpoint = %endpoint.address, error = ?e, "upstream exchange failed");
            UpstreamError::Protocol
        }
        Err(_) => UpstreamError::Timeout,
    };
    if endpoint
        .health
        .record_failure(clock::now_ms(), &backend.health)
    {
        tracing::warn!(backend = %backend.name, endpoint = %endpoint.address, "endpoint ejected after consecutive failures");
    }
    Err(Failed {
        error,
        endpoint: Some(endpoint.address),
    })
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
