//! Route table tests: the precedence table (which route wins for which
//! request) and build-error reporting, through the public API only.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::config::spec::{MatchSpec, PathMatchSpec, ValueMatchSpec};
use crate::route::{RequestView, RouteBuildError, RouteTable};

/// A terse builder for `MatchSpec`, so each route in the table fits a line.
#[derive(Default)]
struct M(MatchSpec);

impl M {
    fn hosts(mut self, hosts: &[&str]) -> Self {
        self.0.hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
        self
    }
    fn path(mut self, exact: Option<&str>, prefix: Option<&str>, regex: Option<&str>) -> Self {
        self.0.path = Some(PathMatchSpec {
            exact: exact.map(str::to_owned),
            prefix: prefix.map(str::to_owned),
            regex: regex.map(str::to_owned),
            case_insensitive: false,
        });
        self
    }
    fn exact(self, p: &str) -> Self {
        self.path(Some(p), None, None)
    }
    fn prefix(self, p: &str) -> Self {
        self.path(None, Some(p), None)
    }
    fn regex(self, p: &str) -> Self {
        self.path(None, None, Some(p))
    }
    fn methods(mut self, methods: &[&str]) -> Self {
        self.0.methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }
    fn header(mut self, name: &str, exact: Option<&str>) -> Self {
        self.0.headers.push(value(name, exact));
        self
    }
    fn query(mut self, name: &str, exact: Option<&str>) -> Self {
        self.0.query.push(value(name, exact));
        self
    }
}

/// `exact` when given, else `present: true`.
fn value(name: &str, exact: Option<&str>) -> ValueMatchSpec {
    ValueMatchSpec {
        name: name.to_owned(),
        exact: exact.map(str::to_owned),
        regex: None,
        present: exact.is_none().then_some(true),
    }
}

fn table() -> RouteTable<&'static str> {
    let api = || M::default().hosts(&["api.example.com"]);
    let routes = vec![
        (api(), "api-any"),
        (api().prefix("/api"), "api-prefix"),
        (api().prefix("/api/v1"), "api-prefix-v1"),
        (api().exact("/api/login"), "api-login"),
        (api().regex("/re/.*"), "api-regex-short"),
        (api().regex("/re/users/[0-9]+"), "api-regex-users"),
        (api().prefix("/api").methods(&["POST"]), "api-post"),
        (
            api().prefix("/api").header("x-env", Some("canary")),
            "api-canary",
        ),
        (
            api()
                .prefix("/api")
                .header("X-Env", Some("canary"))
                .header("x-tier", None),
            "api-canary-tier",
        ),
        (
            api()
                .prefix("/api")
                .header("x-env", Some("canary"))
                .query("debug", None),
            "api-canary-debug",
        ),
        (
            api().prefix("/admin").header("x-role", Some("admin")),
            "api-admin",
        ),
        (
            M::default().hosts(&["shop.example.com"]).prefix("/cart"),
            "shop-first",
        ),
        (
            M::default().hosts(&["shop.example.com"]).prefix("/cart"),
            "shop-second",
        ),
        (M::default().hosts(&["*.example.com"]).prefix("/"), "wild"),
        (
            M::default().hosts(&["*.eu.example.com"]).prefix("/"),
            "wild-eu",
        ),
        (
            M::default().hosts(&["*.example.com"]).exact("/static"),
            "wild-static",
        ),
        (
            M::default()
                .hosts(&["search.example.com"])
                .exact("/find")
                .query("q", Some("a b&c")),
            "search",
        ),
        (
            M::default()
                .hosts(&["Multi.Example.com", "*.multi.test"])
                .exact("/m"),
            "multi",
        ),
        (M::default().exact("/healthz"), "any-health"),
        (
            M::default().prefix("/files/").methods(&["GET", "head"]),
            "any-get",
        ),
        (M::default(), "any-fallback"),
    ];
    RouteTable::build(routes.into_iter().map(|(m, name)| (m.0, name)).collect()).unwrap()
}

/// One request of the precedence table: `target` is `path[?query]`.
fn find<'t>(
    table: &'t RouteTable<&'static str>,
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Option<&'t &'static str> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    table.find(&RequestView {
        host,
        path,
        query,
        method: &method,
        headers: &map,
    })
}

/// Method, host, `path[?query]`, headers, the route expected to win.
type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn precedence_table() {
    let table = table();
    assert_eq!(table.len(), 21);
    let canary = [("x-env", "canary")];
    let canary_tier = [("x-env", "canary"), ("x-tier", "gold")];
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // Path kind: exact > regex > prefix > none; longer prefix first; boundaries.
        ("GET", "api.example.com", "/api/login", &[], "api-login"),
        ("GET", "api.example.com", "/api/login/x", &[], "api-prefix"),
        ("GET", "api.example.com", "/api/v1/users", &[], "api-prefix-v1"),
        ("GET", "api.example.com", "/api/v1x", &[], "api-prefix"),
        ("GET", "api.example.com", "/api", &[], "api-prefix"),
        ("GET", "api.example.com", "/apix", &[], "api-any"),
        // Longer regex first; regexes are anchored at both ends.
        ("GET", "api.example.com", "/re/users/42", &[], "api-regex-users"),
        ("GET", "api.example.com", "/re/users/42/x", &[], "api-regex-short"),
        ("GET", "api.example.com", "/x/re/users/1", &[], "api-any"),
        // Longer prefix beats a method; a method beats headers.
        ("POST", "api.example.com", "/api/v1/x", &[], "api-prefix-v1"),
        ("POST", "api.example.com", "/api/x", &[], "api-post"),
        ("POST", "api.example.com", "/api/x", &canary_tier, "api-post"),
        // More headers first, then more query conditions; exact values are case-sensitive.
        ("GET", "api.example.com", "/api/x", &canary, "api-canary"),
        ("GET", "api.example.com", "/api/x", &canary_tier, "api-canary-tier"),
        ("GET", "api.example.com", "/api/x?debug=1", &canary, "api-canary-debug"),
        ("GET", "api.example.com", "/api/x?debug", &canary_tier, "api-canary-tier"),
        ("GET", "api.example.com", "/api/x", &[("x-env", "Canary")], "api-prefix"),
        // Any occurrence of a repeated header may match.
        ("GET", "api.example.com", "/admin", &[("x-role", "user"), ("x-role", "admin")], "api-admin"),
        ("GET", "api.example.com", "/admin", &[("x-role", "user")], "api-any"),
        // Request hosts are folded: case, port, trailing dot.
        ("GET", "API.Example.COM:8443", "/api/login", &[], "api-login"),
        ("GET", "api.example.com.", "/api/login", &[], "api-login"),
        // Ties go to the earlier route.
        ("GET", "shop.example.com", "/cart/1", &[], "shop-first"),
        // Exact host > wildcard > any host, whatever the path specificity.
        ("GET", "shop.example.com", "/static", &[], "wild-static"),
        ("GET", "api.example.com", "/static", &[], "api-any"),
        ("GET", "www.example.com", "/static", &[], "wild-static"),
        ("GET", "www.example.com", "/healthz", &[], "wild"),
        ("GET", "a.b.example.com", "/x", &[], "wild"),
        ("GET", "a.eu.example.com", "/static", &[], "wild-eu"),
        ("GET", "example.com", "/static", &[], "any-fallback"),
        ("GET", "api.example.com", "/healthz", &[], "api-any"),
        ("GET", "other.org", "/healthz", &[], "any-health"),
        // Query values are percent-decoded, `+` is a space, the first occurrence counts.
        ("GET", "search.example.com", "/find?q=a+b%26c", &[], "search"),
        ("GET", "search.example.com", "/find?q=a+b&c", &[], "wild"),
        ("GET", "search.example.com", "/find?x=1&q=a%20b%26c&q=zzz", &[], "search"),
        ("GET", "search.example.com", "/find?q=zzz&q=a+b%26c", &[], "wild"),
        // A route listing several hosts is indexed under each.
        ("GET", "multi.example.com", "/m", &[], "multi"),
        ("GET", "multi.example.com", "/other", &[], "wild"),
        ("GET", "x.y.multi.test", "/m", &[], "multi"),
        ("GET", "multi.test", "/m", &[], "any-fallback"),
        // Methods (configured lower-case too); prefix with a trailing slash.
        ("HEAD", "other.org", "/files/a", &[], "any-get"),
        ("DELETE", "other.org", "/files/a", &[], "any-fallback"),
        ("GET", "other.org", "/files", &[], "any-fallback"),
    ];
    for (method, host, target, headers, want) in cases {
        let got = find(&table, method, host, target, headers);
        assert_eq!(got, Some(want), "{method} {host}{target} {headers:?}");
    }
}

/// The example and the table of outcomes in docs/routing.md.
#[test]
fn documented_example() {
    let api = || M::default().hosts(&["api.example.com"]);
    let routes = vec![
        (api().exact("/api/login").methods(&["POST"]), "login"),
        (
            api().prefix("/api").header("x-env", Some("canary")),
            "api-canary",
        ),
        (api().prefix("/api"), "api"),
        (api().regex("/users/[0-9]+"), "user-by-id"),
        (
            M::default()
                .hosts(&["*.example.com"])
                .exact("/search")
                .query("debug", None),
            "search-debug",
        ),
        (M::default().exact("/healthz"), "health"),
        (M::default(), "fallback"),
    ];
    let table =
        RouteTable::build(routes.into_iter().map(|(m, name)| (m.0, name)).collect()).unwrap();
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("POST", "api.example.com", "/api/login", &[], "login"),
        ("GET", "api.example.com", "/api/login", &[], "api"),
        ("GET", "api.example.com", "/api/v1", &[("x-env", "canary")], "api-canary"),
        ("GET", "api.example.com", "/apix", &[], "fallback"),
        ("GET", "api.example.com", "/users/42", &[], "user-by-id"),
        ("GET", "www.example.com", "/search?debug", &[], "search-debug"),
        ("GET", "www.example.com", "/healthz", &[], "health"),
        ("GET", "API.EXAMPLE.COM:443", "/api", &[], "api"),
    ];
    for (method, host, target, headers, want) in cases {
        let got = find(&table, method, host, target, headers);
        assert_eq!(got, Some(want), "{method} {host}{target} {headers:?}");
    }
}

#[test]
fn no_match_without_a_fallback() {
    let routes = vec![(M::default().hosts(&["a.test"]).prefix("/x").0, "a")];
    let table = RouteTable::build(routes).unwrap();
    assert_eq!(find(&table, "GET", "a.test", "/x/1", &[]), Some(&"a"));
    assert_eq!(find(&table, "GET", "a.test", "/y", &[]), None);
    assert_eq!(find(&table, "GET", "b.test", "/x", &[]), None);
    assert_eq!(find(&table, "GET", "", "/x", &[]), None);
    let empty = RouteTable::<&str>::build(Vec::new()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(find(&empty, "GET", "a.test", "/", &[]), None);
}

#[test]
fn build_collects_every_error() {
    let bad_path = M::default().path(Some("/a"), Some("/b"), None);
    let routes = vec![
        (M::default().prefix("/ok").0, "ok"),
        (
            M::default()
                .hosts(&["ok.test", "bad host", "*"])
                .regex("(")
                .0,
            "one",
        ),
        (
            bad_path.header("x", Some("v")).header("bad name", None).0,
            "two",
        ),
        (
            M::default()
                .methods(&["GET", "NOT A METHOD"])
                .query("q", None)
                .0,
            "three",
        ),
        (conflicting_value_conditions(), "four"),
    ];
    let errors = RouteTable::build(routes).err().unwrap();
    let fields: Vec<(usize, &str)> = errors
        .iter()
        .map(|e: &RouteBuildError| (e.index, e.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            (1, "hosts[1]"),
            (1, "hosts[2]"),
            (1, "path.regex"),
            (2, "path"),
            (2, "headers[1].name"),
            (3, "methods[1]"),
            (4, "headers[0]"),
            (4, "query[0]"),
        ]
    );
    assert!(errors.iter().all(|e| !e.message.is_empty()));
}

/// A header condition with two kinds set, and a query condition with none.
fn conflicting_value_conditions() -> MatchSpec {
    let both = ValueMatchSpec {
        regex: Some("[".to_owned()),
        ..value("x", Some("v"))
    };
    let neither = ValueMatchSpec {
        name: "q".to_owned(),
        ..ValueMatchSpec::default()
    };
    MatchSpec {
        headers: vec![both],
        query: vec![neither],
        ..MatchSpec::default()
    }
}
