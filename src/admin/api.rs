//! The admin endpoints: health, `/metrics`, and the JSON admin API (effective
//! config, routes, backends with endpoint health, reload, deny list).
//!
//! Every `/api/*` call, and every refused call on any path, is a security
//! event naming the caller, the request and the answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::admin::auth::{self, Token};
use crate::admin::redact::redacted_config;
use crate::admin::server::Readiness;
use crate::config::compile::Snapshot;
use crate::observe::events::{AdminCall, action};
use crate::observe::telemetry::Telemetry;
use crate::upstream::clock::now_ms;

/// Largest admin request body (deny-list entries are tiny).
const MAX_BODY: usize = 64 * 1024;

/// What a reload asked through the admin API came to.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadOutcome {
    Reloaded { config_hash: String },
    Unchanged { config_hash: String },
    Rejected { errors: Vec<String> },
    NotReloadable,
}

/// A reload request sent to the main loop, which owns the gateway.
pub type ReloadRequest = oneshot::Sender<ReloadOutcome>;

/// Everything the admin endpoints read or act on.
pub struct AdminState {
    pub readiness: Readiness,
    pub registry: Registry,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub telemetry: Telemetry,
    pub reload: mpsc::Sender<ReloadRequest>,
    pub token: Option<Token>,
}

type Answer = Response<Full<Bytes>>;

/// Answers one admin request from `peer`.
pub async fn handle(req: Request<Incoming>, peer: SocketAddr, state: &AdminState) -> Answer {
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/healthz" => return text(StatusCode::OK, "ok\n"),
        "/readyz" if state.readiness.is_ready() => return text(StatusCode::OK, "ready\n"),
        "/readyz" => return text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => {}
    }
    let method = req.method().clone();
    let target = format!("{method} {path}");
    let authenticated = state.token.is_some();
    if !auth::authorized(req.headers(), state.token.as_ref()) {
        state.telemetry.events.admin(AdminCall {
            action: action::ADMIN_REQUEST,
            who: &peer.to_string(),
            authenticated: false,
            what: &target,
            status: 401,
            detail: None,
        });
        let mut answer = json_answer(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "bearer token required"}),
        );
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return answer;
    }
    if path == "/metrics" && method == Method::GET {
        return metrics(state);
    }
    let (event, answer, detail) = api(req, &method, &path, peer, state).await;
    state.telemetry.events.admin(AdminCall {
        action: event,
        who: &peer.to_string(),
        authenticated,
        what: &target,
        status: answer.status().as_u16(),
        detail,
    });
    answer
}

async fn api(
    req: Request<Incoming>,
    method: &Method,
    path: &str,
    peer: SocketAddr,
    state: &AdminState,
) -> (&'static str, Answer, Option<Value>) {
    let ok = |v: &Value| (action::ADMIN_REQUEST, json_answer(StatusCode::OK, v), None);
    match (method, path) {
        (&Method::GET, "/api/config") => {
            let snapshot = state.snapshot.load();
            ok(&json!({
                "config_hash": snapshot.hash,
                "config": redacted_config(&snapshot.config),
            }))
        }
        (&Method::GET, "/api/routes") => {
            let snapshot = state.snapshot.load();
            ok(&json!({"routes": redacted_config(&snapshot.config)["routes"]}))
        }
        (&Method::GET, "/api/backends") => ok(&backends(&state.snapshot.load())),
        (&Method::GET, "/api/identity") => {
            ok(&crate::admin::identity::identity(&state.snapshot.load()))
        }
        (&Method::POST, "/api/reload") => (action::ADMIN_REQUEST, reload(state).await, None),
        (&Method::GET, "/api/deny-list") => ok(&deny_list(state)),
        (&Method::POST, "/api/deny-list") => {
            let (answer, detail) = deny_add(req, peer, state).await;
            (action::DENY_LIST_ADDED, answer, detail)
        }
        (&Method::DELETE, "/api/deny-list") => {
            let (answer, detail) = deny_remove(req, state).await;
            (action::DENY_LIST_REMOVED, answer, detail)
        }
        _ => (
            action::ADMIN_REQUEST,
            json_answer(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
            None,
        ),
    }
}

fn metrics(state: &AdminState) -> Answer {
    let mut body = String::with_capacity(16 * 1024);
    if prometheus_client::encoding::text::encode(&mut body, &state.registry).is_err() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n");
    }
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    answer
}

fn backends(snapshot: &Snapshot) -> Value {
    let now = now_ms();
    let mut list: Vec<Value> = snapshot
        .backends
        .values()
        .map(|b| {
            let endpoints: Vec<Value> = b
                .endpoints()
                .endpoints
                .iter()
                .map(|e| {
                    let until = e.health.ejected_until_ms();
                    json!({
                        "address": e.address.to_string(),
                        "weight": e.weight,
                        "healthy": e.health.is_available(now),
                        "ejected_for_ms": until.saturating_sub(now),
                        "consecutive_ejections": e.health.consecutive_ejections(),
                        "in_flight": e.in_flight.load(std::sync::atomic::Ordering::Relaxed),
                    })
                })
                .collect();
            json!({"name": &*b.name, "endpoints": endpoints})
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({"backends": list})
}

async fn reload(state: &AdminState) -> Answer {
    let (tx, rx) = oneshot::channel();
    if state.reload.send(tx).await.is_err() {
        return json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "shutting down"}),
        );
    }
    match rx.await {
        Ok(outcome) => {
            let status = match outcome {
                ReloadOutcome::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                ReloadOutcome::NotReloadable => StatusCode::CONFLICT,
                _ => StatusCode::OK,
            };
            json_answer(
                status,
                &serde_json::to_value(&outcome).unwrap_or(Value::Null),
            )
        }
        Err(_) => json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "shutting down"}),
        ),
    }
}

fn deny_list(state: &AdminState) -> Value {
    let entries: Vec<Value> = state
        .telemetry
        .deny_list
        .list()
        .iter()
        .map(|e| {
            json!({
                "cidr": e.cidr,
                "reason": e.reason,
                "added_by": e.added_by,
                "ttl_left_s": e.ttl_left(),
            })
        })
        .collect();
    json!({"entries": entries})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyAdd {
    cidr: String,
    reason: String,
    /// `30s`, `10m`, `1h`...; absent: until removed.
    #[serde(default)]
    ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyRemove {
    cidr: String,
}

async fn deny_add(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: &AdminState,
) -> (Answer, Option<Value>) {
    let add: DenyAdd = match read_json(req).await {
        Ok(v) => v,
        Err(answer) => return (answer, None),
    };
    // What was asked goes into the audit trail, accepted or not.
    let detail = Some(json!({"cidr": add.cidr, "reason": add.reason, "ttl": add.ttl}));
    let ttl = match add.ttl.as_deref().map(humantime::parse_duration) {
        None => None,
        Some(Ok(d)) if d > Duration::ZERO => Some(d),
        Some(_) => {
            let answer = bad_request("ttl must be a positive duration such as 30s or 10m");
            return (answer, detail);
        }
    };
    let by = peer.to_string();
    let added = state
        .telemetry
        .deny_list
        .add(&add.cidr, ttl, &add.reason, &by);
    let answer = match added {
        Ok(entry) => json_answer(
            StatusCode::CREATED,
            &json!({"cidr": entry.cidr, "reason": entry.reason, "ttl_left_s": entry.ttl_left()}),
        ),
        Err(e) => bad_request(&e),
    };
    (answer, detail)
}

async fn deny_remove(req: Request<Incoming>, state: &AdminState) -> (Answer, Option<Value>) {
    let remove: DenyRemove = match read_json(req).await {
        Ok(v) => v,
        Err(answer) => return (answer, None),
    };
    let detail = Some(json!({"cidr": remove.cidr}));
    let answer = match state.telemetry.deny_list.remove(&remove.cidr) {
        Ok(true) => json_answer(StatusCode::OK, &json!({"removed": remove.cidr})),
        Ok(false) => json_answer(StatusCode::NOT_FOUND, &json!({"error": "no such entry"})),
        Err(e) => bad_request(&e),
    };
    (answer, detail)
}

async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Answer> {
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| bad_request("body unreadable or over 64 KiB"))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| bad_request(&format!("invalid JSON: {e}")))
}

fn bad_request(message: &str) -> Answer {
    json_answer(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

fn json_answer(status: StatusCode, value: &Value) -> Answer {
    let mut body = value.to_string().into_bytes();
    body.push(b'\n');
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    answer
}

fn text(status: StatusCode, body: &'static str) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *answer.status_mut() = status;
    answer
}
