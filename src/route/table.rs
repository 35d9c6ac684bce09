//! The route table: compiled matchers indexed by host and sorted by
//! precedence, answering "which route serves this request?".

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use http::{HeaderMap, Method};

use crate::config::spec::MatchSpec;
use crate::route::host::{self, HostPattern};
use crate::route::method::MethodMatcher;
use crate::route::path::PathMatcher;
use crate::route::precedence::{HostRank, PathRank, RouteRank};
use crate::route::value::{HeaderMatcher, QueryMatcher, ValueError};

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

/// One route's conditions other than the host (the host is the index key).
#[derive(Debug)]
struct CompiledRoute<R> {
    path: Option<PathMatcher>,
    methods: MethodMatcher,
    headers: Vec<HeaderMatcher>,
    query: Vec<QueryMatcher>,
    rank: RouteRank,
    value: R,
}

impl<R> CompiledRoute<R> {
    /// Cheapest checks first; the query string is only scanned when the
    /// route has query conditions.
    fn matches(&self, req: &RequestView<'_>) -> bool {
        self.methods.matches(req.method)
            && self.path.as_ref().is_none_or(|p| p.matches(req.path))
            && self.headers.iter().all(|h| h.matches(req.headers))
            && self.query.iter().all(|q| q.matches(req.query))
    }
}

/// Routes with payload `R`, matched most-specific first.
///
/// Candidates are indices into `routes`. Each exact host's list already
/// holds, in precedence order, the wildcard and any-host routes that also
/// apply to it, so a known host costs one hash lookup and one walk.
#[derive(Debug)]
pub struct RouteTable<R> {
    routes: Vec<CompiledRoute<R>>,
    exact: HashMap<String, Vec<usize>>,
    /// `(suffix, route)`, longest suffix first, then by route precedence.
    wildcard: Vec<(String, usize)>,
    any: Vec<usize>,
}

impl<R> RouteTable<R> {
    /// Compiles the matchers; `routes` is in configuration order, which breaks
    /// precedence ties (earlier wins). Every invalid field of every route is
    /// reported, not just the first.
    pub fn build(routes: Vec<(MatchSpec, R)>) -> Result<Self, Vec<RouteBuildError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(routes.len());
        let mut hosts = Vec::with_capacity(routes.len());
        for (index, (spec, value)) in routes.into_iter().enumerate() {
            match compile(index, &spec, value) {
                Ok((route, patterns)) => {
                    compiled.push(route);
                    hosts.push(patterns);
                }
                Err(mut errs) => errors.append(&mut errs),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(index(compiled, &hosts))
    }

    /// The most specific route matching `req`. Allocates nothing unless the
    /// host needs normalising beyond the stack buffer or a query regex must
    /// see a percent-decoded value.
    pub fn find(&self, req: &RequestView<'_>) -> Option<&R> {
        let mut buf: host::HostBuf = [0; host::HOST_BUF_LEN];
        let host = host::normalize(req.host, &mut buf);
        let host = host.as_ref();
        if let Some(candidates) = self.exact.get(host) {
            return self.first_match(candidates.iter().copied(), req);
        }
        let wildcards = self
            .wildcard
            .iter()
            .filter(|(suffix, _)| host::wildcard_matches(suffix, host))
            .map(|(_, route)| *route);
        self.first_match(wildcards.chain(self.any.iter().copied()), req)
    }

    fn first_match(
        &self,
        candidates: impl Iterator<Item = usize>,
        req: &RequestView<'_>,
    ) -> Option<&R> {
        candidates
            .filter_map(|i| self.routes.get(i))
            .find(|route| route.matches(req))
            .map(|route| &route.value)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Compiles one route, returning its host patterns separately for indexing.
fn compile<R>(
    index: usize,
    spec: &MatchSpec,
    value: R,
) -> Result<(CompiledRoute<R>, Vec<HostPattern>), Vec<RouteBuildError>> {
    let mut errors = Vec::new();
    let mut error = |field: String, message: String| {
        errors.push(RouteBuildError {
            index,
            field,
            message,
        })
    };

    let mut hosts = Vec::with_capacity(spec.hosts.len());
    for (i, raw) in spec.hosts.iter().enumerate() {
        match HostPattern::parse(raw) {
            Ok(pattern) => hosts.push(pattern),
            Err(message) => error(format!("hosts[{i}]"), message),
        }
    }
    let path = match spec.path.as_ref().map(PathMatcher::compile).transpose() {
        Ok(path) => path,
        Err((field, message)) => {
            error(field.to_owned(), message);
            None
        }
    };
    let methods = MethodMatcher::compile(&spec.methods).unwrap_or_else(|errs| {
        for (i, message) in errs {
            error(format!("methods[{i}]"), message);
        }
        MethodMatcher::default()
    });
    let headers = compile_values(&spec.headers, "headers", HeaderMatcher::compile, &mut error);
    let query = compile_values(&spec.query, "query", QueryMatcher::compile, &mut error);

    if !errors.is_empty() {
        return Err(errors);
    }
    let rank = RouteRank {
        path: PathRank::of(path.as_ref()),
        no_method: !methods.is_constrained(),
        headers: Reverse(headers.len()),
        query: Reverse(query.len()),
        order: index,
    };
    let route = CompiledRoute {
        path,
        methods,
        headers,
        query,
        rank,
        value,
    };
    Ok((route, hosts))
}

fn compile_values<S, M>(
    specs: &[S],
    list: &str,
    compile_one: impl Fn(&S) -> Result<M, Vec<ValueError>>,
    error: &mut impl FnMut(String, String),
) -> Vec<M> {
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        match compile_one(spec) {
            Ok(matcher) => out.push(matcher),
            Err(errs) => {
                for (suffix, message) in errs {
                    error(format!("{list}[{i}]{suffix}"), message);
                }
            }
        }
    }
    out
}

/// Builds the host index. A route listing several hosts is entered under
/// each; a route listing none goes to the any-host list.
fn index<R>(routes: Vec<CompiledRoute<R>>, hosts: &[Vec<HostPattern>]) -> RouteTable<R> {
    let mut exact: HashMap<String, Vec<(HostRank, RouteRank, usize)>> = HashMap::new();
    let mut wildcard = Vec::new();
    let mut any = Vec::new();
    for (i, (route, patterns)) in routes.iter().zip(hosts).enumerate() {
        let rank = route.rank;
        if patterns.is_empty() {
            any.push((HostRank::Any, rank, i));
        }
        for pattern in patterns {
            match pattern {
                HostPattern::Exact(name) => {
                    exact
                        .entry(name.clone())
                        .or_default()
                        .push((HostRank::Exact, rank, i))
                }
                HostPattern::Wildcard(suffix) => {
                    let host_rank = HostRank::Wildcard(Reverse(suffix.len()));
                    wildcard.push((host_rank, rank, i, suffix.clone()));
                }
            }
        }
    }
    wildcard.sort();
    any.sort();

    // Merge the wildcard and any-host routes that also apply into each exact
    // host's list, so `find` never has to look past it.
    let exact = exact
        .into_iter()
        .map(|(name, mut entries)| {
            entries.extend(
                wildcard
                    .iter()
                    .filter(|(_, _, _, suffix)| host::wildcard_matches(suffix, &name))
                    .map(|(h, r, i, _)| (*h, *r, *i)),
            );
            entries.extend(any.iter().copied());
            entries.sort();
            // A route listing both `a.example.com` and `*.example.com` would
            // appear twice; its first (most specific) entry is kept.
            let mut seen = HashSet::with_capacity(entries.len());
            let candidates = entries
                .into_iter()
                .map(|(_, _, i)| i)
                .filter(|&i| seen.insert(i))
                .collect();
            (name, candidates)
        })
        .collect();

    RouteTable {
        exact,
        wildcard: wildcard
            .into_iter()
            .map(|(_, _, i, suffix)| (suffix, i))
            .collect(),
        any: any.into_iter().map(|(_, _, i)| i).collect(),
        routes,
    }
}
