//! What the access log records about a request beyond routing: trace
//! context, scheme, the redacted query, user agent, referer, declared
//! request size and configured headers. Captured once at the start of the
//! pipeline, already redacted, so the raw credential never sits in a record.

use std::sync::Arc;

use http::HeaderMap;

use crate::observe::redact::{REDACTED_HEADER, Redaction};
use crate::observe::trace::TraceContext;

#[derive(Debug, Default)]
pub struct RequestFacts {
    pub trace: TraceContext,
    pub scheme: &'static str,
    pub query: Option<String>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    /// The declared `Content-Length` (absent for chunked or empty bodies).
    pub request_bytes: Option<u64>,
    /// Configured headers, credentials already replaced.
    pub headers: Vec<(Arc<str>, String)>,
}

impl RequestFacts {
    /// Reads the facts the log needs from the request head.
    pub fn capture(
        headers: &HeaderMap,
        query: Option<&str>,
        scheme: &'static str,
        trace: TraceContext,
        redaction: &Redaction,
    ) -> Self {
        let text = |name: http::header::HeaderName| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let logged = redaction
            .logged_headers
            .iter()
            .filter_map(|(name, label, redacted)| {
                let value = headers.get(name)?;
                let shown = if *redacted {
                    REDACTED_HEADER.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                Some((Arc::clone(label), shown))
            })
            .collect();
        Self {
            trace,
            scheme,
            query: query.map(|q| redaction.query(q).into_owned()),
            user_agent: text(http::header::USER_AGENT),
            referer: text(http::header::REFERER).map(|r| redaction.url(&r).into_owned()),
            request_bytes: headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            headers: logged,
        }
    }
}
