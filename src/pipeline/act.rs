//! Stage 4, act: the route's action — a direct response, a redirect, or the
//! request (rewritten, with the route's header modifiers) forwarded upstream (hop-by-hop headers out, forwarding headers and the
//! context's header edits in) with the response phases on its answer and
//! the tunnel for a protocol switch.

use std::borrow::Cow;

use http::request::Parts;
use http::{Request, Response, header};
use hyper::body::Incoming;

use crate::config::compile::{DirectResponse, ListenerRuntime, Route};
use crate::http::body::{RequestBody, ResponseBody};
use crate::http::filter::redirect::{Origin, Redirect};
use crate::http::filter::template::OwnedFacts;
use crate::http::forwarding::{self, Hop};
use crate::http::grpc;
use crate::http::normalize::normalize_path;
use crate::http::reject::Rejection;
use crate::http::tunnel;
use crate::listener::client_ip::ClientIp;
use crate::observe::access_log::AccessRecord;
use crate::pipeline::admit::Admitted;
use crate::pipeline::{ConnectionInfo, Stop, admit};
use crate::policy::{Decision, Phases, RequestContext};
use crate::upstream::backend::Backend;
use crate::upstream::forward::{self, UpstreamError, UpstreamRequest};
use crate::upstream::h1::body::UpstreamBody;
use crate::upstream::retrying::{self, RetryStats};

const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// The client side of a protocol switch, taken before the request is split
/// (hyper keeps it in the request's extensions).
#[derive(Debug)]
pub(super) struct Tunnel(Option<hyper::upgrade::OnUpgrade>);

impl Tunnel {
    pub fn take(req: &mut Request<Incoming>) -> Self {
        let upgrade =
            forwarding::is_upgrade(req.headers()) && req.version() <= http::Version::HTTP_11;
        Tunnel(upgrade.then(|| hyper::upgrade::on(req)))
    }
}

/// What the earlier stages worked out for forwarding.
#[derive(Debug)]
pub(super) struct Forward {
    pub client_ip: ClientIp,
    /// The path to send when normalisation (or a rewrite) changed it.
    pub normalized_path: Option<String>,
    pub tunnel: Tunnel,
    /// Request facts for the route's header modifiers (only when it has some).
    pub facts: Option<OwnedFacts>,
}

/// The request facts header-modifier values may name.
pub(super) fn owned_facts(
    conn: &ConnectionInfo,
    admitted: &Admitted<'_>,
    parts: &Parts,
    request_id: &http::HeaderValue,
) -> OwnedFacts {
    OwnedFacts {
        client_ip: admitted.client_ip.addr(),
        request_id: request_id.to_str().unwrap_or_default().to_owned(),
        host: admitted.host.to_string(),
        path: admitted.path.to_string(),
        method: parts.method.as_str().to_owned(),
        scheme: conn.proto,
    }
}

/// The route's response-header modifier, on any answer of the route.
fn response_edits(
    route: &Route,
    facts: Option<&OwnedFacts>,
    response: &mut Response<ResponseBody>,
) {
    if let (Some(modifier), Some(facts)) = (&route.filters.response_headers, facts) {
        modifier.apply(response.headers_mut(), &facts.facts());
    }
}

/// A response the configuration writes.
pub(super) fn direct(
    direct: &DirectResponse,
    route: &Route,
    facts: Option<&OwnedFacts>,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(direct.body.clone()));
    *response.status_mut() = direct.status;
    *response.headers_mut() = direct.headers.clone();
    response_edits(route, facts, &mut response);
    response
}

/// A redirect route action.
pub(super) fn redirect(
    redirect: &Redirect,
    route: &Route,
    facts: Option<&OwnedFacts>,
    conn: &ConnectionInfo,
    admitted: &Admitted<'_>,
    parts: &Parts,
) -> Result<Response<ResponseBody>, Stop> {
    let origin = Origin {
        scheme: conn.proto,
        host: &admitted.host,
        port: admit::request_port(parts),
        path: &admitted.path,
        query: parts.uri.query(),
    };
    let Some(location) = redirect.location(origin) else {
        return Err(Rejection::BadRequest { reason: "bad_host" }.into());
    };
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = redirect.status;
    response.headers_mut().insert(header::LOCATION, location);
    response_edits(route, facts, &mut response);
    Ok(response)
}

/// The path to send upstream: the route's rewrite (normalised again, so
/// captures and replacements cannot reintroduce `..` or `//`), else the
/// normalised path when normalisation changed it; `None` sends the
/// received target as it is (no allocation).
pub(super) fn upstream_path(
    listener: &ListenerRuntime,
    route: &Route,
    path: Cow<'_, str>,
) -> Result<Option<String>, Stop> {
    match (&route.filters.rewrite_path, path) {
        (Some(rewrite), path) => {
            let rewritten = rewrite.apply(&path);
            match normalize_path(&rewritten, listener.spec.http.encoded_slash) {
                Ok(p) => Ok(Some(p.into_owned())),
                Err(_) => Err(Rejection::BadRequest { reason: "bad_path" }.into()),
            }
        }
        (None, Cow::Owned(p)) => Ok(Some(p)),
        (None, Cow::Borrowed(_)) => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn forward(
    listener: &ListenerRuntime,
    conn: &ConnectionInfo,
    route: &Route,
    backend: &Backend,
    mut parts: Parts,
    body: RequestBody,
    forward: Forward,
    record: &mut AccessRecord,
    ctx: &mut RequestContext,
) -> Result<Response<ResponseBody>, Stop> {
    let upgrade = forward.tunnel.0.is_some();
    let host_value = admit::host_header(&parts);
    let hash_key = backend.hash_key(forward.client_ip, &parts.headers);
    // `te: trailers` is end to end for an HTTP/2 backend (gRPC needs it).
    let trailers = backend.spec.protocol.is_h2() && grpc::asks_trailers(&parts.headers);
    forwarding::strip_hop_by_hop(&mut parts.headers, upgrade);
    if trailers {
        parts
            .headers
            .insert(header::TE, http::HeaderValue::from_static("trailers"));
    }
    // The body is re-framed upstream; the client's Expect is answered by
    // this server when the body is first read.
    parts.headers.remove(header::EXPECT);
    let hop = Hop {
        peer_ip: conn.peer.0.ip(),
        peer_trusted: conn.peer_trusted,
        client_ip: forward.client_ip,
        host: host_value.as_ref(),
        proto: conn.proto,
    };
    forwarding::set_forwarding_headers(&mut parts.headers, hop, &record.request_id);
    parts
        .headers
        .insert(TRACEPARENT, record.facts.trace.header());
    crate::tls::identity::forward_client_cert(
        &mut parts.headers,
        listener.tls.as_deref(),
        conn.tls.as_deref(),
    );
    if let Some(host) = host_value {
        parts.headers.insert(header::HOST, host);
    }
    // Route filters, so an operator's edit wins over the defaults
    // (`X-Forwarded-Host` keeps the client's host).
    let filters = &route.filters;
    if let Some(host) = &filters.rewrite_host {
        parts.headers.insert(header::HOST, host.clone());
    }
    if let (Some(modifier), Some(facts)) = (&filters.request_headers, &forward.facts) {
        modifier.apply(&mut parts.headers, &facts.facts());
    }
    // Policies' edits last, so they win over the client's headers (an
    // injected identity header can never be supplied by the client).
    ctx.upstream_headers.apply(&mut parts.headers);

    let target = upstream_target(&parts.uri, forward.normalized_path);
    let request = UpstreamRequest {
        method: &parts.method,
        target: &target,
        headers: &parts.headers,
        attempt_timeout: filters.attempt_timeout,
        // The route's `timeouts.request` bounds every attempt together, and
        // so does a gRPC client's own deadline (answered DEADLINE_EXCEEDED).
        deadline: earliest(
            filters.request_timeout.map(|t| record.start + t),
            grpc::is_grpc(&parts.headers)
                .then(|| grpc::timeout(&parts.headers))
                .flatten()
                .map(|t| record.start + t),
        ),
    };
    // The mirror's copy starts now and runs on its own.
    let body = match &route.mirror {
        Some(mirror) if !upgrade => {
            mirror.start(&record.metrics, &request, body, forward.client_ip)
        }
        _ => body,
    };
    let forwarded = match filters.retry.as_deref() {
        None => forward::forward(backend, request, body, hash_key).await,
        Some(policy) => {
            let mut stats = RetryStats::default();
            let forwarded =
                retrying::forward(backend, request, body, hash_key, policy, &mut stats).await;
            record
                .metrics
                .retries(stats.retries, stats.budget_exhausted);
            forwarded
        }
    };
    let upstreamed = match forwarded {
        Ok(u) => u,
        Err(failed) => {
            record.upstream = failed.endpoint;
            return Err(upstream_rejection(failed.error).into());
        }
    };
    record.upstream = Some(upstreamed.endpoint);
    record.upstream_ms = Some(upstreamed.upstream_ms);

    let response = upstreamed.response;
    if let Some(upstream_conn) = upstreamed.upgraded {
        if let Some(client_upgrade) = forward.tunnel.0 {
            tunnel::spawn(client_upgrade, upstream_conn);
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, ResponseBody::empty()));
        }
        // A 101 nobody asked for is a broken upstream.
        return Err(Rejection::BadGateway {
            reason: "upstream_error",
        }
        .into());
    }
    let (mut head, body) = response.into_parts();
    forwarding::strip_hop_by_hop(&mut head.headers, false);
    // The backend's `Server` names its software and version: removed or
    // replaced unless the listener keeps it.
    listener.hygiene.response(&mut head.headers);
    let body = response_phases(route, ctx, &mut head, body).await?;
    let mut response = Response::from_parts(head, body);
    response_edits(route, forward.facts.as_ref(), &mut response);
    Ok(response)
}

/// The response-head and response-body phases on a backend's answer.
async fn response_phases(
    route: &Route,
    ctx: &mut RequestContext,
    head: &mut http::response::Parts,
    body: UpstreamBody,
) -> Result<ResponseBody, Rejection> {
    let phases = route.chain.phases();
    if phases.contains(Phases::RESPONSE_HEAD)
        && let Decision::Reject(rejection) = route.chain.response_head(ctx, head)
    {
        return Err(rejection);
    }
    let Some(budget) = route.chain.response_body_budget() else {
        return Ok(ResponseBody::upstream(body));
    };
    if !route.chain.wants_response_body(ctx) {
        return Ok(ResponseBody::upstream(body));
    }
    let buffered = crate::http::body_buffer::buffer(body, budget.max_bytes)
        .await
        .map_err(|_| Rejection::BadGateway {
            reason: "upstream_error",
        })?;
    let decision = route.chain.response_body(
        ctx,
        head,
        buffered.inspected(budget.max_bytes),
        buffered.is_complete(),
    );
    match decision {
        Decision::Continue => Ok(ResponseBody::from_buffered(buffered)),
        Decision::Reject(rejection) => Err(rejection),
    }
}

fn earliest(
    a: Option<std::time::Instant>,
    b: Option<std::time::Instant>,
) -> Option<std::time::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn upstream_rejection(error: UpstreamError) -> Rejection {
    match error {
        UpstreamError::Timeout => Rejection::GatewayTimeout,
        UpstreamError::ConnectFailed => Rejection::BadGateway {
            reason: "connect_failed",
        },
        UpstreamError::Protocol => Rejection::BadGateway {
            reason: "upstream_error",
        },
        UpstreamError::ClientBody(fault) => super::police::fault_rejection(fault),
    }
}

/// The origin-form target for the endpoint: the normalised path (when
/// normalisation changed it) plus the query.
fn upstream_target(uri: &http::Uri, normalized: Option<String>) -> Cow<'_, str> {
    match normalized {
        None => Cow::Borrowed(uri.path_and_query().map_or("/", |pq| pq.as_str())),
        Some(mut path) => {
            if let Some(q) = uri.query() {
                path.push('?');
                path.push_str(q);
            }
            Cow::Owned(path)
        }
    }
}
