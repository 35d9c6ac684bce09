//! The route table: compiled matchers sorted by precedence.

use http::{HeaderMap, Method};

use crate::config::spec::MatchSpec;

/// The parts of a request routing looks at. `host` is lower-case without a
/// port; `path` is already normalised (see `http::normalize`).
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

/// A route that could not be compiled; `field` is relative to the route's
/// `match` (e.g. `path.regex`, `headers[1].regex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteBuildError {
    pub index: usize,
    pub field: String,
    pub message: String,
}

/// Routes with payload `R`, matched most-specific first.
#[derive(Debug)]
pub struct RouteTable<R> {
    _r: Vec<R>,
}

impl<R> RouteTable<R> {
    /// Compiles the matchers; `routes` is in configuration order, which breaks
    /// precedence ties (earlier wins).
    pub fn build(routes: Vec<(MatchSpec, R)>) -> Result<Self, Vec<RouteBuildError>> {
        let _ = routes;
        todo!("H4")
    }

    /// The most specific route matching `req`.
    pub fn find(&self, req: &RequestView<'_>) -> Option<&R> {
        let _ = req;
        todo!("H4")
    }

    pub fn len(&self) -> usize {
        self._r.len()
    }

    pub fn is_empty(&self) -> bool {
        self._r.is_empty()
    }
}
