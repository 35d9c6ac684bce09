//! The per-request pipeline, assembled in one function so its order can be
//! read top to bottom (see `docs/architecture.md`):
//!
//! admit (client IP, strict checks, sizes, host, path) → route → police
//! (deny list, policy chain: request head, request body) → act (direct
//! response, or upstream with the response phases) → respond (headers,
//! access record).
//!
//! Each stage returns its result or a [`Stop`]; the access record and the
//! request context are owned here and handed to [`respond::finish`] on every
//! path, so no exit can forget the record or drop a permit early.

mod act;
mod admit;
mod police;
mod respond;
mod routing;

use std::sync::Arc;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::config::compile::{ListenerRuntime, RouteAction};
use crate::http::body::ResponseBody;
use crate::http::reject::Rejection;
use crate::listener::client_ip::PeerAddr;
use crate::policy::{PolicyInput, RequestContext};

/// The policy name denials by the admin deny list are logged under.
pub const DENY_LIST_POLICY: &str = "deny_list";

/// What the connection knows about itself, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: PeerAddr,
    /// The load balancer's address when a PROXY header named `peer`.
    pub proxied_by: Option<std::net::SocketAddr>,
    pub peer_trusted: bool,
    pub proto: &'static str,
    /// Handshake facts on a TLS listener (version, SNI, client identity).
    pub tls: Option<Arc<crate::tls::identity::TlsFacts>>,
}

/// Why a stage ended the request early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A typed refusal, turned into its response in one place.
    Reject(Rejection),
    /// A complete answer that is not a refusal (an HTTPS redirect).
    /// Boxed: rare, and it would make every stage's result large.
    Answer(Box<Response<ResponseBody>>),
}

impl From<Rejection> for Stop {
    fn from(rejection: Rejection) -> Self {
        Stop::Reject(rejection)
    }
}

/// Handles one request on `listener` (the snapshot loaded for this request).
pub async fn handle(
    listener: Arc<ListenerRuntime>,
    conn: &ConnectionInfo,
    mut req: Request<Incoming>,
) -> Response<ResponseBody> {
    // An HTTP/1 request that asks to switch protocols (any `Upgrade`, or
    // CONNECT) makes the framing guard stop judging the bytes after it, as
    // they may belong to a tunnel. If no tunnel opens (whatever the answer:
    // policy, route, upstream refusal), the connection must end here, or
    // requests after it would reach hyper unjudged.
    let asks_upgrade = req.version() <= http::Version::HTTP_11
        && (req.headers().contains_key(header::UPGRADE) || req.method() == http::Method::CONNECT);
    let tunnel = act::Tunnel::take(&mut req);
    let grpc = crate::http::grpc::is_grpc(req.headers());
    let (parts, body) = req.into_parts();

    let mut record = respond::record(&listener, conn, &parts);
    let mut ctx = RequestContext::default();
    let outcome = run(&listener, conn, parts, body, tunnel, &mut record, &mut ctx).await;
    let mut response = respond::finish(record, ctx, outcome, grpc);

    let hsts = listener.tls.as_ref().and_then(|t| t.hsts.as_ref());
    crate::http::redirect::add_hsts(&mut response, hsts);
    if asks_upgrade && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    response
}

/// The stages in order.
async fn run(
    listener: &ListenerRuntime,
    conn: &ConnectionInfo,
    mut parts: http::request::Parts,
    body: Incoming,
    tunnel: act::Tunnel,
    record: &mut crate::observe::access_log::AccessRecord,
    ctx: &mut RequestContext,
) -> Result<Response<ResponseBody>, Stop> {
    // Header names a backend could read as a header the gateway owns, and
    // vendor client-IP / URL-override headers of untrusted peers: removed
    // (or refused) before any policy or the backend sees them.
    if listener
        .hygiene
        .apply(&mut parts.headers, conn.peer_trusted)
        .is_err()
    {
        return Err(Rejection::BadRequest {
            reason: "underscore_header",
        }
        .into());
    }
    let admitted = admit::admit(listener, conn, &parts, &body, record)?;
    let route = routing::select(listener, &parts, &admitted, record)?;
    let input = PolicyInput {
        client_ip: admitted.client_ip,
        client_cert: conn.tls.as_ref().and_then(|t| t.client.as_ref()),
        method: &parts.method,
        host: &admitted.host,
        path: &admitted.path,
        query: parts.uri.query(),
        target: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        version: parts.version,
        headers: &parts.headers,
        route: &route.name,
        principal: None,
    };
    police::request_head(listener, route, &input, ctx).await?;
    let body = police::request_body(listener, route, &input, ctx, body).await?;
    // Header-modifier values may name request facts; they are copied only
    // for routes that have modifiers.
    let facts = route
        .filters
        .has_header_modifiers()
        .then(|| act::owned_facts(conn, &admitted, &parts, &record.request_id));
    let backend = match &route.action {
        RouteAction::Direct(direct) => return Ok(act::direct(direct, route, facts.as_ref())),
        RouteAction::Redirect(redirect) => {
            return act::redirect(redirect, route, facts.as_ref(), conn, &admitted, &parts);
        }
        RouteAction::Backend(backend) => Arc::clone(backend),
        RouteAction::Split(split) => match split.pick(&parts.headers) {
            Some(backend) => Arc::clone(backend),
            None => return Err(Rejection::NoRoute.into()),
        },
    };
    let client_ip = admitted.client_ip;
    let normalized_path = act::upstream_path(listener, route, admitted.path)?;
    let forward = act::Forward {
        client_ip,
        normalized_path,
        tunnel,
        facts,
    };
    act::forward(
        listener, conn, route, &backend, parts, body, forward, record, ctx,
    )
    .await
}
