//! The per-request pipeline, assembled in one function so its order can be
//! read top to bottom (see `docs/architecture.md`):
//!
//! client IP → strict checks → path normalisation → route → policy chain →
//! action (direct response or upstream) → response headers → access record.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::config::compile::{ListenerRuntime, RouteAction};
use crate::config::spec_strict::PathStrictness;
use crate::http::body::{RequestBody, ResponseBody};
use crate::http::body_limit::{BodyFault, Inactivity, LimitedBody, MinRate};
use crate::http::filter::redirect::Origin;
use crate::http::filter::template::OwnedFacts;
use crate::http::forwarding::{self, Hop};
use crate::http::normalize::{PathError, normalize_path};
use crate::http::reject::Rejection;
use crate::http::request_id::request_id;
use crate::http::tunnel;
use crate::listener::client_ip::{PeerAddr, resolve_client_ip};
use crate::observe::access_log::AccessRecord;
use crate::observe::facts::RequestFacts;
use crate::observe::trace::TraceContext;
use crate::policy::{Decision, Extras, PolicyInput};
use crate::route::RequestView;
use crate::upstream::forward::{self, UpstreamError, UpstreamRequest};

const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

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

/// Handles one request on `listener` (the snapshot loaded for this request).
pub async fn handle(
    listener: Arc<ListenerRuntime>,
    conn: &ConnectionInfo,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    // An HTTP/1 request that asks to switch protocols (any `Upgrade`, or
    // CONNECT) makes the framing guard stop judging the bytes after it, as
    // they may belong to a tunnel. If no tunnel opens (whatever the answer:
    // policy, route, upstream refusal), the connection must end here, or
    // requests after it would reach hyper unjudged.
    let asks_upgrade = req.version() <= http::Version::HTTP_11
        && (req.headers().contains_key(header::UPGRADE) || req.method() == http::Method::CONNECT);
    let hsts = listener.tls.as_ref().and_then(|t| t.hsts.clone());
    let mut response = handle_request(listener, conn, req).await;
    crate::http::redirect::add_hsts(&mut response, hsts.as_ref());
    if asks_upgrade && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn handle_request(
    listener: Arc<ListenerRuntime>,
    conn: &ConnectionInfo,
    mut req: Request<Incoming>,
) -> Response<ResponseBody> {
    let request_id = request_id(req.headers());
    // With the access log off, the record still carries what the response
    // needs but skips the copies only the log line would use.
    let logging = listener.access_log.is_enabled();
    let mut record = AccessRecord {
        log: listener.access_log.clone(),
        time: SystemTime::now(),
        start: Instant::now(),
        request_id: request_id.clone(),
        listener: Arc::clone(&listener.name),
        peer: conn.peer,
        proxied_by: conn.proxied_by,
        client_ip: None,
        method: req.method().clone(),
        host: String::new(),
        path: String::new(),
        version: req.version(),
        status: 0,
        bytes_sent: 0,
        route: None,
        upstream: None,
        upstream_ms: None,
        policy: None,
        reason: None,
        body_error: false,
        metrics: Arc::clone(&listener.unrouted),
        events: listener.events.clone(),
        facts: RequestFacts::default(),
        tls: conn.tls.clone(),
    };
    // The trace continues upstream whether or not this request is logged.
    let trace = TraceContext::from_header(req.headers().get(TRACEPARENT));
    if logging {
        record.facts = RequestFacts::capture(
            req.headers(),
            req.uri().query(),
            conn.proto,
            trace,
            listener.access_log.redaction(),
        );
    } else {
        record.facts.trace = trace;
    }

    // 1. Who is the client? Only trusted hops' X-Forwarded-For is believed.
    let client_ip = resolve_client_ip(conn.peer.0.ip(), req.headers(), &listener.trusted);
    record.client_ip = Some(client_ip);

    // 2. Framing the guard should already have refused; checked again here
    //    because an HTTP/2 request never passes the HTTP/1 guard.
    if req.headers().contains_key(header::TRANSFER_ENCODING)
        && req.headers().contains_key(header::CONTENT_LENGTH)
    {
        return reject(
            record,
            Rejection::BadRequest {
                reason: "cl_and_te",
            },
            &request_id,
        );
    }

    // Header names a backend could read as a header the gateway owns, and
    // vendor client-IP / URL-override headers of untrusted peers: removed
    // (or refused) before any policy or the backend sees them.
    if listener
        .hygiene
        .apply(req.headers_mut(), conn.peer_trusted)
        .is_err()
    {
        return reject(
            record,
            Rejection::BadRequest {
                reason: "underscore_header",
            },
            &request_id,
        );
    }

    // Size limits, before anything looks at the target or reads the body.
    // (Head size and header count are the framing guard's and hyper's: 431.)
    let target_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > listener.spec.http.max_uri_bytes {
        return reject(record, Rejection::UriTooLong, &request_id);
    }
    let body_limit = listener.spec.http.max_body_bytes;
    if let Some(limit) = body_limit
        && http_body::Body::size_hint(req.body()).lower() > limit
    {
        return reject(record, Rejection::PayloadTooLarge, &request_id);
    }

    // 3. Host and path as routing and policies see them.
    let Some(host) = request_host(&req) else {
        return reject(
            record,
            Rejection::BadRequest { reason: "bad_host" },
            &request_id,
        );
    };
    if logging {
        record.host.push_str(&host);
    }
    // A plain listener set to redirect answers before routing: nothing is
    // served in clear.
    if let Some(redirect) = &listener.spec.https_redirect {
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        if logging {
            record.path.push_str(req.uri().path());
        }
        // No valid Location (a host that cannot be a header value): refuse
        // rather than fall through to serving in clear.
        return match crate::http::redirect::to_https(redirect, req.method(), &host, target) {
            Some(response) => finish(record, response, &request_id),
            None => reject(
                record,
                Rejection::BadRequest { reason: "bad_host" },
                &request_id,
            ),
        };
    }
    // Strict mode first refuses spellings backends decode differently
    // (matrix parameters, double encoding, overlong UTF-8, fullwidth forms).
    if listener.spec.http.path_strictness == PathStrictness::Strict
        && let Err(e) = crate::http::path_strict::check(req.uri().path())
    {
        if logging {
            record.path.push_str(req.uri().path());
        }
        let rejection = Rejection::BadRequest { reason: e.reason() };
        return reject(record, rejection, &request_id);
    }
    let path = match normalize_path(req.uri().path(), listener.spec.http.encoded_slash) {
        Ok(p) => p,
        Err(e) => {
            if logging {
                record.path.push_str(req.uri().path());
            }
            let reason = match e {
                PathError::EncodedSlash => "encoded_slash",
                _ => "bad_path",
            };
            return reject(record, Rejection::BadRequest { reason }, &request_id);
        }
    };
    if logging {
        record.path.push_str(&path);
    }

    // 4. Route.
    let view = RequestView {
        host: &host,
        path: &path,
        query: req.uri().query(),
        method: req.method(),
        headers: req.headers(),
    };
    let Some(route) = listener.routes.find(&view) else {
        return reject(record, Rejection::NoRoute, &request_id);
    };
    record.route = Some(Arc::clone(&route.name));
    record.metrics = Arc::clone(&route.metrics);

    // 5. Policy chain: the operator's dynamic deny list first (it must block
    //    a source at once on every route, whatever its policies), then
    //    listener policies, then route policies.
    if let Some(entry) = listener.deny_list.check(client_ip) {
        tracing::debug!(cidr = %entry.cidr, "client on the deny list");
        let rejection = Rejection::Forbidden {
            policy: Arc::from(DENY_LIST_POLICY),
            reason: "ip_deny_list",
        };
        return reject(record, rejection, &request_id);
    }
    let input = PolicyInput {
        client_ip,
        client_cert: conn.tls.as_ref().and_then(|t| t.client.as_ref()),
        method: req.method(),
        host: &host,
        path: &path,
        query: req.uri().query(),
        headers: req.headers(),
        route: &route.name,
    };
    let mut extras = Extras::default();
    if let Decision::Reject(rejection) = route.chain.evaluate(&input, &mut extras).await {
        return reject(record, rejection, &request_id);
    }
    if let Some((policy, reason)) = extras.note {
        record.policy = Some(policy);
        record.reason = Some(reason);
    }
    // In-flight places are held until the response body ends, whatever the
    // outcome below.
    let permits = extras.permits;
    let held = move |response: Response<ResponseBody>| response.map(|b| b.holding(permits));

    // 6. Action. Header-modifier values may name request facts; they are
    // copied only for routes that have modifiers.
    let filters = &route.filters;
    let owned_facts = filters.has_header_modifiers().then(|| OwnedFacts {
        client_ip: client_ip.addr(),
        request_id: request_id.to_str().unwrap_or_default().to_owned(),
        host: host.to_string(),
        path: path.to_string(),
        method: req.method().as_str().to_owned(),
        scheme: conn.proto,
    });
    let facts = owned_facts.as_ref().map(OwnedFacts::facts);
    let respond_edits = |response: &mut Response<ResponseBody>| {
        if let (Some(modifier), Some(facts)) = (&filters.response_headers, &facts) {
            modifier.apply(response.headers_mut(), facts);
        }
    };
    let backend = match &route.action {
        RouteAction::Direct(direct) => {
            let mut response = Response::new(ResponseBody::full(direct.body.clone()));
            *response.status_mut() = direct.status;
            *response.headers_mut() = direct.headers.clone();
            respond_edits(&mut response);
            return held(finish(record, response, &request_id));
        }
        RouteAction::Redirect(redirect) => {
            let origin = Origin {
                scheme: conn.proto,
                host: &host,
                port: request_port(&req),
                path: &path,
                query: req.uri().query(),
            };
            let Some(location) = redirect.location(origin) else {
                let rejection = Rejection::BadRequest { reason: "bad_host" };
                return held(reject(record, rejection, &request_id));
            };
            let mut response = Response::new(ResponseBody::empty());
            *response.status_mut() = redirect.status;
            response.headers_mut().insert(header::LOCATION, location);
            respond_edits(&mut response);
            return held(finish(record, response, &request_id));
        }
        RouteAction::Backend(backend) => Arc::clone(backend),
        RouteAction::Split(split) => match split.pick(req.headers()) {
            Some(backend) => Arc::clone(backend),
            None => return held(reject(record, Rejection::NoRoute, &request_id)),
        },
    };

    // Keep only a path normalisation (or a rewrite) changed; otherwise the
    // received target is sent as it is (no allocation). A rewritten path is
    // normalised again: captures and replacements must not reintroduce
    // `..` or `//` for the backend.
    let normalized = match (&filters.rewrite_path, path) {
        (Some(rewrite), path) => {
            let rewritten = rewrite.apply(&path);
            match normalize_path(&rewritten, listener.spec.http.encoded_slash) {
                Ok(p) => Some(p.into_owned()),
                Err(_) => {
                    let rejection = Rejection::BadRequest { reason: "bad_path" };
                    return held(reject(record, rejection, &request_id));
                }
            }
        }
        (None, Cow::Owned(p)) => Some(p),
        (None, Cow::Borrowed(_)) => None,
    };
    let upgrade = forwarding::is_upgrade(req.headers()) && req.version() <= http::Version::HTTP_11;
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));

    let host_value = host_header(&req);
    let hash_key = backend.hash_key(client_ip, req.headers());
    let (mut parts, body) = req.into_parts();
    forwarding::strip_hop_by_hop(&mut parts.headers, upgrade);
    // The body is re-framed upstream; the client's Expect is answered by
    // this server when the body is first read.
    parts.headers.remove(header::EXPECT);
    let hop = Hop {
        peer_ip: conn.peer.0.ip(),
        peer_trusted: conn.peer_trusted,
        client_ip,
        host: host_value.as_ref(),
        proto: conn.proto,
    };
    forwarding::set_forwarding_headers(&mut parts.headers, hop, &request_id);
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
    // Route filters last, so an operator's edit wins over the defaults
    // (`X-Forwarded-Host` keeps the client's host).
    if let Some(host) = &filters.rewrite_host {
        parts.headers.insert(header::HOST, host.clone());
    }
    if let (Some(modifier), Some(facts)) = (&filters.request_headers, &facts) {
        modifier.apply(&mut parts.headers, facts);
    }

    let target = upstream_target(&parts.uri, normalized);
    let request = UpstreamRequest {
        method: &parts.method,
        target: &target,
        headers: &parts.headers,
        attempt_timeout: filters.attempt_timeout,
        // The route's `timeouts.request` bounds every attempt together.
        deadline: filters.request_timeout.map(|t| record.start + t),
    };
    let min_rate = listener
        .spec
        .http
        .min_body_rate
        .as_ref()
        .map(MinRate::from_spec);
    // A body that is already complete (no body, or a GET) needs no timer.
    let inactivity = (!http_body::Body::is_end_stream(&body))
        .then_some(listener.spec.http.body_timeout)
        .flatten()
        .map(Inactivity::new);
    // The route's body limit replaces the listener's; a declared length
    // over it is refused before anything is sent.
    let body_limit = filters.max_body_bytes.or(body_limit);
    if let Some(limit) = filters.max_body_bytes
        && http_body::Body::size_hint(&body).lower() > limit
    {
        return held(reject(record, Rejection::PayloadTooLarge, &request_id));
    }
    let body = if body_limit.is_some() || min_rate.is_some() || inactivity.is_some() {
        RequestBody::Limited(LimitedBody::new(body, body_limit, min_rate, inactivity))
    } else {
        RequestBody::Incoming(body)
    };
    let upstreamed = match forward::forward(&backend, request, body, hash_key).await {
        Ok(u) => u,
        Err(failed) => {
            record.upstream = failed.endpoint;
            let rejection = match failed.error {
                UpstreamError::Timeout => Rejection::GatewayTimeout,
                UpstreamError::ConnectFailed => Rejection::BadGateway {
                    reason: "connect_failed",
                },
                UpstreamError::Protocol => Rejection::BadGateway {
                    reason: "upstream_error",
                },
                UpstreamError::ClientBody(BodyFault::TooLarge) => Rejection::PayloadTooLarge,
                UpstreamError::ClientBody(BodyFault::TooSlow) => Rejection::BodyTimeout {
                    reason: "body_too_slow",
                },
                UpstreamError::ClientBody(BodyFault::Idle) => Rejection::BodyTimeout {
                    reason: "body_timeout",
                },
                UpstreamError::ClientBody(BodyFault::Malformed) => {
                    Rejection::BadRequest { reason: "bad_body" }
                }
            };
            return held(reject(record, rejection, &request_id));
        }
    };
    record.upstream = Some(upstreamed.endpoint);
    record.upstream_ms = Some(upstreamed.upstream_ms);

    let mut response = upstreamed.response;
    if let Some(upstream_conn) = upstreamed.upgraded {
        if let Some(client_upgrade) = client_upgrade {
            tunnel::spawn(client_upgrade, upstream_conn);
            let (parts, _) = response.into_parts();
            return held(finish(
                record,
                Response::from_parts(parts, ResponseBody::empty()),
                &request_id,
            ));
        }
        // A 101 nobody asked for is a broken upstream.
        return held(reject(
            record,
            Rejection::BadGateway {
                reason: "upstream_error",
            },
            &request_id,
        ));
    }
    forwarding::strip_hop_by_hop(response.headers_mut(), false);
    // The backend's `Server` names its software and version: removed or
    // replaced unless the listener keeps it.
    listener.hygiene.response(response.headers_mut());
    let (parts, body) = response.into_parts();
    let mut response = Response::from_parts(parts, ResponseBody::upstream(body));
    respond_edits(&mut response);
    held(finish(record, response, &request_id))
}

fn reject(
    mut record: AccessRecord,
    rejection: Rejection,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    record.reason = Some(rejection.reason());
    record.policy = rejection.policy().cloned();
    let response = rejection.into_response(request_id);
    finish(record, response, request_id)
}

fn finish(
    mut record: AccessRecord,
    mut response: Response<ResponseBody>,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    if !response.headers().contains_key("x-request-id") {
        response
            .headers_mut()
            .insert("x-request-id", request_id.clone());
    }
    record.status = response.status().as_u16();
    response.map(|body| body.with_record(record))
}

/// The host the request is for: the URI authority (HTTP/2, absolute-form)
/// or the Host header; lower-case, without port. `None` when malformed.
fn request_host(req: &Request<Incoming>) -> Option<Cow<'_, str>> {
    let raw = match req.uri().authority() {
        // Userinfo is deprecated and a classic confusion trick (RFC 9110
        // §4.2.4: treat it as an error).
        Some(authority) if authority.as_str().contains('@') => return None,
        Some(authority) => authority.host(),
        None => match req.headers().get(header::HOST) {
            Some(value) => {
                let text = value.to_str().ok()?;
                // Host is `uri-host [":" port]`; userinfo has no place in it.
                if text.contains('@') {
                    return None;
                }
                let authority: http::uri::Authority = text.parse().ok()?;
                // `host()` borrows from the temporary; fall back to slicing.
                let host_len = authority.host().len();
                if text.starts_with('[') {
                    text.get(..host_len)?
                } else {
                    text.split(':').next()?
                }
            }
            // HTTP/1.0 without Host: route as the empty host (any-host routes).
            None => "",
        },
    };
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(raw.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(raw))
    }
}

/// The port the client named in the authority or `Host`, if any.
fn request_port(req: &Request<Incoming>) -> Option<u16> {
    if let Some(authority) = req.uri().authority() {
        return authority.port_u16();
    }
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    host.parse::<http::uri::Authority>().ok()?.port_u16()
}

/// The Host value to send upstream: the target's authority when it has one
/// (absolute-form, where RFC 9112 §3.2.2 has a proxy ignore `Host`, and
/// HTTP/2's `:authority`), as routing used it; else the `Host` header.
fn host_header(req: &Request<Incoming>) -> Option<HeaderValue> {
    if let Some(authority) = req.uri().authority() {
        return HeaderValue::from_str(authority.as_str()).ok();
    }
    req.headers().get(header::HOST).cloned()
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
