//! Stage 3, police: the operator's deny list, then the route's policy chain
//! in its request phases — the head, then (only when a policy of the chain
//! inspects it) the body, buffered within the chain's budget.

use std::sync::Arc;

use hyper::body::Incoming;

use crate::config::compile::{ListenerRuntime, Route};
use crate::http::body::RequestBody;
use crate::http::body_limit::{BodyFault, Inactivity, LimitedBody, MinRate, RequestBodyError};
use crate::http::reject::Rejection;
use crate::pipeline::DENY_LIST_POLICY;
use crate::policy::{Decision, PolicyInput, RequestContext};

/// The request-head phase. The deny list comes first: it must block a
/// source at once on every route, whatever its policies.
pub(super) async fn request_head(
    listener: &ListenerRuntime,
    route: &Route,
    input: &PolicyInput<'_>,
    ctx: &mut RequestContext,
) -> Result<(), Rejection> {
    if let Some(entry) = listener.deny_list.check(input.client_ip) {
        tracing::debug!(cidr = %entry.cidr, "client on the deny list");
        return Err(Rejection::Forbidden {
            policy: Arc::from(DENY_LIST_POLICY),
            reason: "ip_deny_list",
        });
    }
    match route.chain.request_head(input, ctx).await {
        Decision::Continue => Ok(()),
        Decision::Reject(rejection) => Err(rejection),
    }
}

/// The client's body under the listener's limits and, when a policy of the
/// chain inspects it, buffered within the chain's budget and judged.
pub(super) async fn request_body(
    listener: &ListenerRuntime,
    route: &Route,
    input: &PolicyInput<'_>,
    ctx: &mut RequestContext,
    body: Incoming,
) -> Result<RequestBody, Rejection> {
    let http = &listener.spec.http;
    let min_rate = http.min_body_rate.as_ref().map(MinRate::from_spec);
    // A body that is already complete (no body, or a GET) needs no timer.
    let inactivity = (!http_body::Body::is_end_stream(&body))
        .then_some(http.body_timeout)
        .flatten()
        .map(Inactivity::new);
    // The route's body limit replaces the listener's; a declared length
    // over it is refused before anything is read.
    let route_limit = route.filters.max_body_bytes;
    if let Some(limit) = route_limit
        && http_body::Body::size_hint(&body).lower() > limit
    {
        return Err(Rejection::PayloadTooLarge);
    }
    let body_limit = route_limit.or(http.max_body_bytes);
    let body = if body_limit.is_some() || min_rate.is_some() || inactivity.is_some() {
        RequestBody::Limited(LimitedBody::new(body, body_limit, min_rate, inactivity))
    } else {
        RequestBody::Incoming(body)
    };
    let Some(budget) = route.chain.request_body_budget() else {
        return Ok(body);
    };
    let buffered = crate::http::body_buffer::buffer(body, budget.max_bytes)
        .await
        .map_err(body_rejection)?;
    if !buffered.is_complete() && !budget.inspect_partial {
        return Err(Rejection::PayloadTooLarge);
    }
    let complete = buffered.is_complete();
    let decision = route
        .chain
        .request_body(input, ctx, buffered.inspected(budget.max_bytes), complete)
        .await;
    match decision {
        Decision::Continue => Ok(RequestBody::from_buffered(buffered)),
        Decision::Reject(rejection) => Err(rejection),
    }
}

/// A client body that broke off or broke a limit while being buffered.
fn body_rejection(error: RequestBodyError) -> Rejection {
    match error {
        RequestBodyError::Limit(fault) => fault_rejection(fault),
        RequestBodyError::Client(_) => Rejection::BadRequest { reason: "bad_body" },
    }
}

/// The client's fault, whichever stage noticed it: never the backend's.
pub(super) fn fault_rejection(fault: BodyFault) -> Rejection {
    match fault {
        BodyFault::TooLarge => Rejection::PayloadTooLarge,
        BodyFault::TooSlow => Rejection::BodyTimeout {
            reason: "body_too_slow",
        },
        BodyFault::Idle => Rejection::BodyTimeout {
            reason: "body_timeout",
        },
        BodyFault::Malformed => Rejection::BadRequest { reason: "bad_body" },
    }
}
