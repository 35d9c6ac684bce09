//! Every answer the gateway writes itself, mapped to HTTP in one place.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::http::body::ResponseBody;

/// Why the gateway answers instead of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The request is malformed (framing, path, headers).
    BadRequest { reason: &'static str },
    /// No route matches the request.
    NoRoute,
    /// A policy denied the client (e.g. `ip_filter`).
    Forbidden {
        policy: Arc<str>,
        reason: &'static str,
    },
    /// The request body is over `http.max_body_bytes` (declared or streamed).
    PayloadTooLarge,
    /// The client sent its body slower than `http.min_body_rate` (slow
    /// POST, `body_too_slow`), paused longer than `http.body_timeout`, or
    /// was still sending when the backend's request timeout ran out
    /// (`body_timeout`).
    BodyTimeout { reason: &'static str },
    /// The request target is over `http.max_uri_bytes`.
    UriTooLong,
    /// An `inflight` policy had no place (queue full or wait timed out).
    Overloaded {
        policy: Arc<str>,
        retry_after_secs: u64,
    },
    /// A rate limit refused the request (`Retry-After`, `RateLimit-*`).
    RateLimited {
        policy: Arc<str>,
        reason: &'static str,
        status: StatusCode,
        retry_after_secs: u64,
        /// The limit that refused: `quota` requests per `window_secs`.
        quota: u64,
        window_secs: u64,
    },
    /// No endpoint could be reached, or it answered with garbage.
    BadGateway { reason: &'static str },
    /// The upstream did not answer in time.
    GatewayTimeout,
    /// Authentication is required and missing or failed: 401 with a
    /// `WWW-Authenticate` challenge (RFC 6750 error codes for bearer tokens).
    Unauthorized {
        policy: Arc<str>,
        reason: &'static str,
        challenge: HeaderValue,
    },
    /// Authenticated, but an authorization rule (or the default) denied.
    Denied { policy: Arc<str>, rule: Arc<str> },
    /// A browser must log in first: 302 to the identity provider, with the
    /// cookies that carry the login state.
    LoginRedirect {
        policy: Arc<str>,
        location: HeaderValue,
        cookies: Vec<HeaderValue>,
    },
    /// A policy answers the request itself with a redirect and cookies
    /// (the OIDC callback completing a login, logout).
    PolicyRedirect {
        policy: Arc<str>,
        reason: &'static str,
        location: HeaderValue,
        cookies: Vec<HeaderValue>,
    },
    /// An external authorization service refused: its status, chosen
    /// headers and body are relayed to the client.
    ExternalDenied(Box<Relayed>),
    /// A service authentication depends on (identity provider,
    /// introspection, auth service) is unavailable; the policy fails closed.
    AuthUnavailable {
        policy: Arc<str>,
        reason: &'static str,
    },
    /// A WAF rule refused the request (or the response): the rule's
    /// status, 403 by default; `close` for SecLang's `drop`.
    WafBlocked {
        policy: Arc<str>,
        rule: Arc<str>,
        status: StatusCode,
        close: bool,
    },
}

/// An answer relayed from an external authorization service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    pub policy: Arc<str>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Rejection::NoRoute => StatusCode::NOT_FOUND,
            Rejection::Forbidden { .. } => StatusCode::FORBIDDEN,
            Rejection::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Rejection::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::UriTooLong => StatusCode::URI_TOO_LONG,
            Rejection::RateLimited { status, .. } => *status,
            Rejection::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Rejection::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Rejection::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Rejection::Denied { .. } => StatusCode::FORBIDDEN,
            Rejection::LoginRedirect { .. } => StatusCode::FOUND,
            Rejection::PolicyRedirect { .. } => StatusCode::FOUND,
            Rejection::ExternalDenied(relayed) => relayed.status,
            Rejection::AuthUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::WafBlocked { status, .. } => *status,
        }
    }

    /// The stable reason code written to the access log.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::BadRequest { reason } => reason,
            Rejection::NoRoute => "no_route",
            Rejection::Forbidden { reason, .. } => reason,
            Rejection::PayloadTooLarge => "body_too_large",
            Rejection::BodyTimeout { reason } => reason,
            Rejection::Overloaded { .. } => "inflight_limited",
            Rejection::UriTooLong => "uri_too_long",
            Rejection::RateLimited { reason, .. } => reason,
            Rejection::BadGateway { reason } => reason,
            Rejection::GatewayTimeout => "upstream_timeout",
            Rejection::Unauthorized { reason, .. } => reason,
            Rejection::Denied { .. } => "authz_denied",
            Rejection::LoginRedirect { .. } => "login_required",
            Rejection::PolicyRedirect { reason, .. } => reason,
            Rejection::ExternalDenied(_) => "external_denied",
            Rejection::AuthUnavailable { reason, .. } => reason,
            Rejection::WafBlocked { .. } => "waf_blocked",
        }
    }

    /// The same rejection attributed to `policy` (for a challenge built
    /// with another realm name).
    pub fn with_policy(mut self, name: &Arc<str>) -> Self {
        if let Rejection::Unauthorized { policy, .. } = &mut self {
            *policy = Arc::clone(name);
        }
        self
    }

    /// The authorization rule that denied, for the access log.
    pub fn rule(&self) -> Option<&Arc<str>> {
        match self {
            Rejection::Denied { rule, .. } | Rejection::WafBlocked { rule, .. } => Some(rule),
            _ => None,
        }
    }

    /// The policy that rejected, when a policy did.
    pub fn policy(&self) -> Option<&Arc<str>> {
        match self {
            Rejection::Forbidden { policy, .. }
            | Rejection::RateLimited { policy, .. }
            | Rejection::Overloaded { policy, .. }
            | Rejection::Unauthorized { policy, .. }
            | Rejection::Denied { policy, .. }
            | Rejection::LoginRedirect { policy, .. }
            | Rejection::PolicyRedirect { policy, .. }
            | Rejection::AuthUnavailable { policy, .. }
            | Rejection::WafBlocked { policy, .. } => Some(policy),
            Rejection::ExternalDenied(relayed) => Some(&relayed.policy),
            _ => None,
        }
    }

    /// Whether the client connection must close after this answer (framing
    /// errors leave the stream in an unknown state).
    pub fn closes_connection(&self) -> bool {
        // An unread (or half-read) oversized body leaves the stream mid-message.
        matches!(
            self,
            Rejection::BadRequest { .. }
                | Rejection::PayloadTooLarge
                | Rejection::UriTooLong
                | Rejection::BodyTimeout { .. }
                | Rejection::WafBlocked { close: true, .. }
        )
    }

    /// A short plain-text answer naming the status and the request id
    /// (relayed and redirect answers carry their own).
    pub fn into_response(self, request_id: &HeaderValue) -> Response<ResponseBody> {
        let status = self.status();
        match self {
            Rejection::ExternalDenied(relayed) => {
                let relayed = *relayed;
                let mut response = Response::new(ResponseBody::full(relayed.body));
                *response.status_mut() = relayed.status;
                *response.headers_mut() = relayed.headers;
                response
                    .headers_mut()
                    .insert("x-request-id", request_id.clone());
                return response;
            }
            Rejection::LoginRedirect {
                location, cookies, ..
            }
            | Rejection::PolicyRedirect {
                location, cookies, ..
            } => {
                let mut response = Response::new(ResponseBody::empty());
                *response.status_mut() = status;
                let headers = response.headers_mut();
                headers.insert(header::LOCATION, location);
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                for cookie in cookies {
                    headers.append(header::SET_COOKIE, cookie);
                }
                headers.insert("x-request-id", request_id.clone());
                return response;
            }
            _ => {}
        }
        let limit_headers = self.limit_headers();
        // A person may read this one in a browser: say what is wrong.
        let explanation = match &self {
            Rejection::AuthUnavailable { .. } => {
                "The sign-in service is unavailable right now. Please try again in a moment.\n"
            }
            _ => "",
        };
        let body = format!(
            "{} {}\n{explanation}request id: {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            request_id.to_str().unwrap_or("-")
        );
        let mut response = Response::new(ResponseBody::full(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert("x-request-id", request_id.clone());
        if self.closes_connection() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Rejection::Unauthorized { challenge, .. } = &self {
            headers.insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        for (name, value) in limit_headers.into_iter().flatten() {
            if name.is_empty() {
                continue;
            }
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }

    /// The same answer as a gRPC client reads it: HTTP 200, `content-type:
    /// application/grpc`, `grpc-status` (see [`crate::http::grpc::code_for`])
    /// and the reason code as `grpc-message`, with no body (a
    /// Trailers-Only response).
    pub fn into_grpc_response(self, request_id: &HeaderValue) -> Response<ResponseBody> {
        let code = crate::http::grpc::code_for(self.status());
        let mut response = Response::new(ResponseBody::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", code.header());
        if let Ok(message) = HeaderValue::from_str(self.reason()) {
            headers.insert("grpc-message", message);
        }
        headers.insert("x-request-id", request_id.clone());
        if let Rejection::Unauthorized { challenge, .. } = &self {
            headers.insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        response
    }

    /// `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` fields
    /// (draft-ietf-httpapi-ratelimit-headers) for a rate-limit rejection.
    fn limit_headers(&self) -> Option<[(&'static str, String); 3]> {
        if let Rejection::Overloaded {
            retry_after_secs, ..
        } = self
        {
            // Only Retry-After; the other two slots are left empty.
            return Some([
                ("retry-after", retry_after_secs.to_string()),
                ("", String::new()),
                ("", String::new()),
            ]);
        }
        let Rejection::RateLimited {
            policy,
            retry_after_secs,
            quota,
            window_secs,
            ..
        } = self
        else {
            return None;
        };
        Some([
            ("retry-after", retry_after_secs.to_string()),
            (
                "ratelimit-policy",
                format!("\"{policy}\";q={quota};w={window_secs}"),
            ),
            (
                "ratelimit",
                format!("\"{policy}\";r=0;t={retry_after_secs}"),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons() {
        let cases = [
            (Rejection::NoRoute, 404, "no_route"),
            (
                Rejection::Forbidden {
                    policy: "p".into(),
                    reason: "ip_denied",
                },
                403,
                "ip_denied",
            ),
            (
                Rejection::BadGateway {
                    reason: "connect_failed",
                },
                502,
                "connect_failed",
            ),
            (Rejection::GatewayTimeout, 504, "upstream_timeout"),
            (
                Rejection::BadRequest { reason: "bad_path" },
                400,
                "bad_path",
            ),
        ];
        for (rejection, status, reason) in cases {
            assert_eq!(rejection.status().as_u16(), status);
            assert_eq!(rejection.reason(), reason);
        }
    }

    #[test]
    fn grpc_answers_are_http_200_with_a_grpc_status() {
        let id = HeaderValue::from_static("req-2");
        let response = Rejection::GatewayTimeout.into_grpc_response(&id);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert_eq!(response.headers()["grpc-status"], "4");
        assert_eq!(response.headers()["grpc-message"], "upstream_timeout");
        let response = Rejection::BadGateway {
            reason: "connect_failed",
        }
        .into_grpc_response(&id);
        assert_eq!(response.headers()["grpc-status"], "14");
        assert_eq!(response.headers()["x-request-id"], "req-2");
    }

    #[test]
    fn response_names_request_id_and_closes_on_bad_request() {
        let id = HeaderValue::from_static("req-1");
        let response = Rejection::BadRequest { reason: "x" }.into_response(&id);
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["x-request-id"], "req-1");
        assert_eq!(response.headers()["connection"], "close");
    }
}
