//! What a route does to a request and its response besides choosing the
//! backend (Gateway API filters): header modifiers, URL rewrite, redirect.
//! Compiled from `routes[].{request_headers, response_headers, rewrite,
//! redirect}`; applied by the pipeline.

pub mod headers;
pub mod path;
pub mod redirect;
pub mod template;

use http::HeaderValue;

use crate::config::spec::RouteSpec;
use crate::http::filter::headers::HeaderModifier;
use crate::http::filter::path::PathModifier;
use crate::http::filter::redirect::valid_hostname;

/// A route's filters; every part is optional and costs nothing when unset.
#[derive(Debug, Clone, Default)]
pub struct RouteFilters {
    pub request_headers: Option<HeaderModifier>,
    pub response_headers: Option<HeaderModifier>,
    pub rewrite_host: Option<HeaderValue>,
    pub rewrite_path: Option<PathModifier>,
    /// `max_body_bytes` of the route (else the listener's).
    pub max_body_bytes: Option<u64>,
    /// `timeouts.request`: the whole forward.
    pub request_timeout: Option<std::time::Duration>,
    /// `timeouts.backend_request`: one attempt.
    pub attempt_timeout: Option<std::time::Duration>,
    /// `retries`, with its budget (shared by the route's requests).
    pub retry: Option<std::sync::Arc<crate::upstream::retry::RetryPolicy>>,
}

impl RouteFilters {
    /// Whether a header modifier is set (request facts are then copied).
    pub fn has_header_modifiers(&self) -> bool {
        self.request_headers.is_some() || self.response_headers.is_some()
    }
}

/// The route's `path.prefix` and its `case_insensitive`, which
/// `replace_prefix_match` replaces.
pub fn route_prefix(route: &RouteSpec) -> Option<(&str, bool)> {
    let path = route.matches.path.as_ref()?;
    path.prefix.as_deref().map(|p| (p, path.case_insensitive))
}

impl RouteFilters {
    /// Errors are `(field relative to the route, message)`.
    pub fn compile(route: &RouteSpec) -> Result<Self, (String, String)> {
        let modifier =
            |field: &str, spec: &Option<crate::config::spec_route::HeaderModifierSpec>| {
                spec.as_ref()
                    .map(HeaderModifier::compile)
                    .transpose()
                    .map(|m| m.filter(|m| !m.is_empty()))
                    .map_err(|(f, m)| (format!("{field}.{f}"), m))
            };
        let mut out = Self {
            request_headers: modifier("request_headers", &route.request_headers)?,
            response_headers: modifier("response_headers", &route.response_headers)?,
            max_body_bytes: route.max_body_bytes,
            ..Self::default()
        };
        if let Some(t) = &route.timeouts {
            for (name, value) in [
                ("request", t.request),
                ("backend_request", t.backend_request),
            ] {
                if value.is_some_and(|d| d.is_zero()) {
                    return Err((format!("timeouts.{name}"), "must be greater than 0".into()));
                }
            }
            if route.backend.is_none() && route.backends.is_empty() {
                return Err(("timeouts".into(), "timeouts need a backend".into()));
            }
            out.request_timeout = t.request;
            out.attempt_timeout = t.backend_request;
        }
        if let Some(rewrite) = &route.rewrite {
            if route.backend.is_none() {
                return Err((
                    "rewrite".into(),
                    "a rewrite needs a backend to forward to".into(),
                ));
            }
            if let Some(host) = &rewrite.hostname {
                let value = HeaderValue::from_str(host)
                    .ok()
                    .filter(|_| valid_hostname(host));
                let Some(value) = value else {
                    return Err((
                        "rewrite.hostname".into(),
                        format!("{host:?} is not a valid host name"),
                    ));
                };
                out.rewrite_host = Some(value);
            }
            out.rewrite_path = rewrite
                .path
                .as_ref()
                .map(|p| PathModifier::compile(p, route_prefix(route)))
                .transpose()
                .map_err(|(f, m)| {
                    let field = if f.is_empty() {
                        "rewrite.path".to_owned()
                    } else {
                        format!("rewrite.path.{f}")
                    };
                    (field, m)
                })?;
        }
        if let Some(retries) = &route.retries {
            if route.backend.is_none() && route.backends.is_empty() {
                return Err(("retries".into(), "retries need a backend".into()));
            }
            let policy = crate::upstream::retry::RetryPolicy::compile(retries)
                .map_err(|(f, m)| (format!("retries.{f}"), m))?;
            out.retry = Some(std::sync::Arc::new(policy));
        }
        Ok(out)
    }
}
