//! Attack suite, path-normalisation bypasses: alternative spellings of a
//! protected path must meet the protected route's policy (403) or be refused
//! (400), never reach the backend; allowed requests reach it normalised.

mod common;

use common::attack::*;
use common::*;

/// One request over a raw socket (the target exactly as written, which
/// hyper's client would not send for some of these); returns the status.
async fn status_of(gw: &Gateway, target: &str) -> u16 {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
    let codes = statuses(&reply);
    assert_eq!(codes.len(), 1, "{target}: {reply}");
    codes[0]
}

/// `/admin` denies loopback clients (all of ours). Every spelling that
/// normalises to `/admin` or below must meet that policy.
#[tokio::test]
async fn spellings_of_a_protected_path_are_denied() {
    let (gw, up) = setup("").await;
    let denied = [
        "/admin",
        "/%61dmin",
        "/%61%64%6D%69%6E",
        "/x/../admin",
        "/x/%2e%2e/admin",
        "/%2e%2e/admin",
        "/../../admin",
        "//admin",
        "///admin//",
        "/./admin",
        "/%2E/admin",
        "/admin/",
        "/admin/.",
        "/admin/x/..",
        "/admin/sub?q=1",
        "/admin?x=/../public",
    ];
    for target in denied {
        assert_eq!(status_of(&gw, target).await, 403, "{target}");
    }
    assert_eq!(up.count(), 0, "{:?}", up.seen());
    assert_healthy(&gw, &up).await;
}

/// Spellings the gateway refuses outright (`encoded_slash: reject`, the
/// default; bad escapes; backslashes): 400, backend untouched.
#[tokio::test]
async fn ambiguous_spellings_are_refused() {
    let (gw, up) = setup("").await;
    let refused = [
        "/admin%2f..",
        "/%2fadmin",
        "/%2Fadmin",
        "/x%2f..%2fadmin",
        "/%5cadmin",
        "/admin%00",
        "/%zzadmin",
        "/adm%6",
        "/\\admin",
    ];
    for target in refused {
        assert_eq!(status_of(&gw, target).await, 400, "{target}");
    }
    assert_eq!(up.count(), 0, "{:?}", up.seen());
    assert_healthy(&gw, &up).await;
}

/// Paths are case-sensitive (RFC 3986 §6.2.2.1: only scheme and host are
/// case-insensitive), so `/ADMIN` is a different resource: it is not the
/// protected route and reaches the catch-all, with its spelling intact.
/// A backend that folds case would be exposed; that is the backend's
/// contract to keep, and a policy can match such paths with a regex.
#[tokio::test]
async fn other_case_is_another_path() {
    let (gw, up) = setup("").await;
    assert_eq!(status_of(&gw, "/ADMIN").await, 200);
    assert_eq!(status_of(&gw, "/Admin/x").await, 200);
    // Escapes of other letters are decoded only to the letter they encode.
    assert_eq!(status_of(&gw, "/%41DMIN").await, 200);
    assert_eq!(seen_paths(&up), ["/ADMIN", "/Admin/x", "/ADMIN"]);
    assert_healthy(&gw, &up).await;
}

/// Allowed requests reach the backend in the normalised spelling the
/// routes and policies judged, with the query untouched.
#[tokio::test]
async fn the_backend_gets_the_normalised_path() {
    let (gw, up) = setup("").await;
    let cases = [
        ("/a/./b/../c", "/a/c"),
        ("//a///b", "/a/b"),
        ("/%7euser/%61", "/~user/a"),
        ("/a/b/..", "/a/"),
        ("/a%3fb", "/a%3Fb"),
        ("/p?q=/../x&y=%2e", "/p?q=/../x&y=%2e"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/administrator", "/administrator"),
    ];
    for (target, _) in cases {
        assert_eq!(status_of(&gw, target).await, 200, "{target}");
    }
    let want: Vec<_> = cases.iter().map(|(_, n)| n.to_string()).collect();
    assert_eq!(seen_paths(&up), want);
    assert_healthy(&gw, &up).await;
}

/// Under `encoded_slash: decode`, `%2F` is a separator before matching, so
/// it cannot hide `/admin` either; under `keep` it stays opaque data inside
/// one segment, which the route for `/admin` does not match.
#[tokio::test]
async fn encoded_slash_modes_do_not_open_a_bypass() {
    let (gw, up) = setup(", encoded_slash: decode").await;
    assert_eq!(status_of(&gw, "/%2fadmin").await, 403);
    assert_eq!(status_of(&gw, "/x%2F..%2Fadmin").await, 403);
    assert_eq!(status_of(&gw, "/%5cadmin").await, 403);
    assert_eq!(up.count(), 0);
    assert_healthy(&gw, &up).await;

    let (gw, up) = setup(", encoded_slash: keep").await;
    assert_eq!(status_of(&gw, "/x%2f..%2fadmin").await, 200);
    assert_eq!(status_of(&gw, "/admin%2fx").await, 200);
    assert_eq!(status_of(&gw, "/admin/%2f").await, 403);
    // Kept opaque and upper-cased, as `keep` promises. (A backend that
    // decodes `%2F` into a separator must not run behind `keep`.)
    assert_eq!(seen_paths(&up), ["/x%2F..%2Fadmin", "/admin%2Fx"]);
    assert_healthy(&gw, &up).await;
}

/// Strict mode (the default): spellings that Tomcat/Spring, double-decoding
/// frameworks, lenient UTF-8 decoders, NFKC-normalising stacks or
/// whitespace-trimming routers read as `/admin` are refused with 400 before
/// routing; the backend never sees them.
#[tokio::test]
async fn strict_mode_refuses_backend_confusions() {
    let (gw, up) = setup("").await;
    let refused = [
        "/admin;x",
        "/admin;jsessionid=1",
        "/;x/admin",
        "/x/..;/admin",
        "/admin%3Bx",
        "/%252e%252e/admin",
        "/x/%252e%252e/admin",
        "/%2561dmin",
        "/%c0%ae%c0%ae/admin",
        "/x/%c0%ae%c0%ae/admin",
        "/%e0%80%afadmin",
        "/%c0%afadmin",
        "/%ef%bc%a1dmin",
        "/%ef%bd%81dmin",
        "/%ef%bc%8fadmin",
        "/admin%09",
        "/admin%20",
        "/admin%20/",
        "/admin%0d%0a",
    ];
    for target in refused {
        assert_eq!(status_of(&gw, target).await, 400, "{target}");
    }
    assert_eq!(up.count(), 0, "{:?}", up.seen());
    assert_healthy(&gw, &up).await;
}

/// `path_strictness: standard` relaxes strict mode: a matrix parameter is
/// then an ordinary segment byte, so `/admin;x` is another path (the
/// catch-all), and only RFC 3986 normalisation applies.
#[tokio::test]
async fn standard_mode_relaxes_strict_checks() {
    let (gw, up) = setup(", path_strictness: standard").await;
    assert_eq!(status_of(&gw, "/public;v=1").await, 200);
    assert_eq!(status_of(&gw, "/a%20b%20").await, 200);
    assert_eq!(seen_paths(&up), ["/public;v=1", "/a%20b%20"]);
    assert_healthy(&gw, &up).await;
}

/// A route with `case_insensitive: true` holds its policy for every ASCII
/// case of its prefix, so a case-folding backend cannot be reached at
/// `/ADMIN`; with strict mode on, no spelling above gets through either.
#[tokio::test]
async fn case_insensitive_route_holds_for_case_variants() {
    let up = Upstream::start("up").await;
    let yaml = config(up.addr, "").replace(
        "path: { prefix: /admin }",
        "path: { prefix: /admin, case_insensitive: true }",
    );
    assert!(yaml.contains("case_insensitive"), "config template changed");
    let gw = Gateway::start(&yaml);
    for target in [
        "/ADMIN",
        "/Admin/x",
        "/aDmIn/",
        "/%41DMIN",
        "/X/../ADMIN",
        "//AdMiN",
    ] {
        assert_eq!(status_of(&gw, target).await, 403, "{target}");
    }
    assert_eq!(status_of(&gw, "/ADMINISTRATOR").await, 200);
    assert_eq!(seen_paths(&up), ["/ADMINISTRATOR"]);
    assert_healthy(&gw, &up).await;
}
