//! Stage 5, respond: the answer the client gets — the action's response
//! with the context's response-header edits, or the typed rejection turned
//! into its response — with the request id, the in-flight permits held
//! until the body ends, and the access record that the body emits when it
//! is done. Every request leaves through [`finish`].

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::request::Parts;
use http::{HeaderName, Response};

use crate::config::compile::ListenerRuntime;
use crate::http::body::ResponseBody;
use crate::http::request_id::request_id;
use crate::observe::access_log::AccessRecord;
use crate::observe::facts::RequestFacts;
use crate::observe::trace::TraceContext;
use crate::pipeline::{ConnectionInfo, Stop};
use crate::policy::RequestContext;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The record every stage fills in. With the access log off, it still
/// carries what the response and metrics need but skips the copies only
/// the log line would use.
pub(super) fn record(
    listener: &ListenerRuntime,
    conn: &ConnectionInfo,
    parts: &Parts,
) -> AccessRecord {
    let logging = listener.access_log.is_enabled();
    let mut record = AccessRecord {
        log: listener.access_log.clone(),
        time: SystemTime::now(),
        start: Instant::now(),
        request_id: request_id(&parts.headers),
        listener: Arc::clone(&listener.name),
        peer: conn.peer,
        proxied_by: conn.proxied_by,
        client_ip: None,
        method: parts.method.clone(),
        host: String::new(),
        path: String::new(),
        version: parts.version,
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
        principal: None,
        rule: None,
        failed_auth: false,
        waf: None,
        anomaly: None,
        listener_anomaly: listener.anomaly.clone(),
        under_attack: false,
    };
    // The trace continues upstream whether or not this request is logged.
    let trace = TraceContext::from_header(parts.headers.get(TRACEPARENT));
    if logging {
        record.facts = RequestFacts::capture(
            &parts.headers,
            parts.uri.query(),
            conn.proto,
            trace,
            listener.access_log.redaction(),
        );
    } else {
        record.facts.trace = trace;
    }
    record
}

/// Turns the stages' outcome into the response and attaches the record.
/// `grpc`: the request is gRPC, so a refusal is answered as a gRPC status.
pub(super) fn finish(
    mut record: AccessRecord,
    ctx: RequestContext,
    outcome: Result<Response<ResponseBody>, Stop>,
    grpc: bool,
) -> Response<ResponseBody> {
    let RequestContext {
        principal,
        response_headers,
        permits,
        note,
        waf,
        ..
    } = ctx;
    record.principal = principal;
    // Phase 5 (logging) runs now; its findings go into the record.
    if let Some(waf) = waf {
        record.waf = waf.finish(record.log.redaction()).map(Box::new);
    }
    let mut response = match outcome {
        Ok(mut response) => {
            response_headers.apply(response.headers_mut());
            if let Some((policy, reason)) = note {
                record.policy = Some(policy);
                record.reason = Some(reason);
            }
            response
        }
        Err(Stop::Answer(response)) => *response,
        Err(Stop::Reject(rejection)) => {
            record.reason = Some(rejection.reason());
            record.policy = rejection.policy().cloned();
            record.rule = rejection.rule().cloned();
            record.failed_auth = rejection.is_failed_authentication();
            if grpc {
                rejection.into_grpc_response(&record.request_id)
            } else {
                rejection.into_response(&record.request_id)
            }
        }
    };
    if !response.headers().contains_key(REQUEST_ID) {
        response
            .headers_mut()
            .insert(REQUEST_ID, record.request_id.clone());
    }
    record.status = response.status().as_u16();
    response.map(|body| body.holding(permits).with_record(record))
}
