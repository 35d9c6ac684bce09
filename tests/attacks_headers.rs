//! Attack suite, header abuse: oversized and duplicated fields, Host tricks,
//! absolute-form targets, spoofed forwarding headers and `Connection`-listed
//! removals. Each checks the client's status and what the backend received.

mod common;

use common::attack::*;
use common::*;

/// Sends one raw request (closing) and returns its single status.
async fn one(gw: &Gateway, raw: &str) -> u16 {
    let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
    let codes = statuses(&reply);
    assert_eq!(codes.len(), 1, "{reply}");
    codes[0]
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let (gw, up) = setup("").await;
    // max_head_bytes is 8192, max_headers 32.
    let pad = "p".repeat(9000);
    let big_value = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n");
    assert_eq!(one(&gw, &big_value).await, 431);
    let many: String = (0..40).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(one(&gw, &many).await, 431);
    // A request line longer than max_head_bytes is an oversized head like
    // any other: 431 (not 414; the guard refuses it before hyper parses
    // the URI).
    let long_uri = format!("GET /{pad} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(one(&gw, &long_uri).await, 431);
    // Many small pieces: still counted as one head.
    let many_small: String = (0..31)
        .map(|i| format!("X-{i}: {}\r\n", "v".repeat(300)))
        .collect();
    let many_small = format!("GET / HTTP/1.1\r\nHost: x\r\n{many_small}\r\n");
    assert_eq!(one(&gw, &many_small).await, 431);
    assert_eq!(up.count(), 0);
    assert_healthy(&gw, &up).await;
}

#[tokio::test]
async fn host_abuse_gets_400() {
    let (gw, up) = setup("").await;
    let heads = [
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user:pw@blocked.example\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n",
        "GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for raw in heads {
        assert_eq!(one(&gw, raw).await, 400, "{raw:?}");
    }
    assert_eq!(up.count(), 0, "{:?}", up.seen());
    assert_healthy(&gw, &up).await;
}

/// An absolute-form target names the host (RFC 9112 §3.2.2: a proxy MUST
/// ignore the Host header then and use the target's authority). Routing,
/// policies and the backend's Host must all agree on it.
#[tokio::test]
async fn absolute_form_target_is_one_host_throughout() {
    let (gw, up) = setup("").await;
    // The route for blocked.example denies loopback clients.
    let raw = "GET http://blocked.example/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 403);
    let raw = "GET / HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 403);
    assert_eq!(up.count(), 0);
    // Routed as `x`: the backend must not be told it is for blocked.example.
    let raw = "GET http://x/b?q=1 HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/b?q=1", "origin-form upstream");
    assert_eq!(seen[0].headers["host"], "x");
    assert_eq!(seen[0].headers["x-forwarded-host"], "x");
    assert_healthy(&gw, &up).await;
}

#[tokio::test]
async fn spoofed_forwarding_headers_are_replaced() {
    let (gw, up) = setup("").await;
    let raw = "GET /f HTTP/1.1\r\nHost: x\r\n\
               X-Forwarded-For: 6.6.6.6\r\nx-forwarded-for: 7.7.7.7, 8.8.8.8\r\n\
               X-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=https\r\n\
               X-Forwarded-Proto: https\r\nX-Forwarded-Host: admin.internal\r\n\
               X-Forwarded-Prefix: /admin\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    let all = |name: &str| -> Vec<String> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(all("x-real-ip"), ["127.0.0.1"]);
    assert_eq!(all("x-forwarded-proto"), ["http"]);
    assert_eq!(all("x-forwarded-host"), ["x"]);
    assert!(!h.contains_key("forwarded"));
    assert!(!h.contains_key("x-forwarded-prefix"));
    // The spoofed address did not become the client either: /admin still
    // sees a loopback client.
    let raw = "GET /admin HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 403);
    assert_eq!(up.count(), 1);
    assert_healthy(&gw, &up).await;
}

/// `Connection` may list end-to-end fields, which then are hop-by-hop and
/// removed (RFC 9110 §7.6.1), but never the gateway's own fields, which are
/// set after the removal, nor the framing of the forwarded body.
#[tokio::test]
async fn connection_listed_fields() {
    let (gw, up) = setup("").await;
    let raw = "POST /c HTTP/1.1\r\nHost: x\r\nX-Api-Key: secret\r\nX-Keep: 1\r\n\
               Content-Length: 5\r\nConnection: close, x-api-key\r\n\r\nhello";
    assert_eq!(one(&gw, raw).await, 200);
    let raw = "POST /d HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\
               Content-Length: 5\r\nConnection: close, x-forwarded-for, x-real-ip, \
               x-request-id, x-forwarded-host, x-forwarded-proto, host, content-length\r\n\r\nhello";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    let (c, d) = (&seen[0], &seen[1]);
    assert!(!c.headers.contains_key("x-api-key"), "{:?}", c.headers);
    assert_eq!(c.headers["x-keep"], "1");
    assert!(!c.headers.contains_key("connection"));
    assert_eq!(c.body_len, 5);
    let h = &d.headers;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "x");
    assert_eq!(h["host"], "x");
    assert_eq!(h["x-request-id"].len(), 32);
    // The body kept its framing.
    assert_eq!(d.body_len, 5);
    assert_eq!(h["content-length"], "5");
    assert_healthy(&gw, &up).await;
}

/// CGI/WSGI backends read `_` and `-` alike, so an underscore spelling of a
/// framing or forwarding header would smuggle a second copy past the
/// gateway's rewrite. By default every such name is dropped.
#[tokio::test]
async fn underscore_header_names_are_dropped() {
    let (gw, up) = setup("").await;
    let raw = "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
               Transfer_Encoding: chunked\r\nContent_Length: 0\r\n\
               X_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\n\
               X_Api_Key: k\r\nX-Keep: 1\r\nConnection: close\r\n\r\nhello";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    assert!(
        h.keys().all(|k| !k.as_str().contains('_')),
        "underscore names reached the backend: {h:?}"
    );
    assert_eq!(h["x-keep"], "1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(seen[0].body_len, 5);
    assert_healthy(&gw, &up).await;
}

#[tokio::test]
async fn underscore_header_names_reject_and_allow_modes() {
    let (gw, up) = setup(", underscore_headers: reject").await;
    let raw = "GET /u HTTP/1.1\r\nHost: x\r\nX_Api_Key: k\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 400);
    assert_eq!(up.count(), 0);
    assert_healthy(&gw, &up).await;
    drop(gw);

    let (gw, up) = setup(", underscore_headers: allow").await;
    let raw = "GET /u HTTP/1.1\r\nHost: x\r\nX_Api_Key: k\r\nX_Forwarded_For: 6.6.6.6\r\n\
               Transfer_Encoding: chunked\r\nTrue_Client_IP: 6.6.6.6\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    let names: Vec<&str> = seen[0]
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.contains('_'))
        .collect();
    assert_eq!(
        names,
        ["x_api_key"],
        "only a name that shadows nothing is kept"
    );
    assert_healthy(&gw, &up).await;
}

/// Vendor client-IP headers and URL/method overrides from an untrusted
/// client are removed like the standard forwarding headers.
#[tokio::test]
async fn vendor_client_ip_and_url_override_headers_are_stripped() {
    let (gw, up) = setup("").await;
    let spoofed = [
        "True-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "X-Client-IP",
        "X-Cluster-Client-IP",
        "X-Originating-IP",
        "X-Remote-IP",
        "X-Remote-Addr",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Override-URL",
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ];
    let lines: String = spoofed.iter().map(|n| format!("{n}: /admin\r\n")).collect();
    let raw =
        format!("GET /v HTTP/1.1\r\nHost: x\r\n{lines}X-Keep: 1\r\nConnection: close\r\n\r\n");
    assert_eq!(one(&gw, &raw).await, 200);
    let seen = up.seen();
    let h = &seen[0].headers;
    for name in spoofed {
        assert!(!h.contains_key(name), "{name} reached the backend");
    }
    assert_eq!(h["x-keep"], "1");
    assert_healthy(&gw, &up).await;
    drop(gw);

    // The list is configurable: an operator's own header joins it, and a
    // header left off it passes.
    let (gw, up) = setup(", strip_untrusted_headers: [x-internal-user]").await;
    let raw = "GET /v HTTP/1.1\r\nHost: x\r\nX-Internal-User: root\r\nTrue-Client-IP: 1.2.3.4\r\nConnection: close\r\n\r\n";
    assert_eq!(one(&gw, raw).await, 200);
    let seen = up.seen();
    assert!(!seen[0].headers.contains_key("x-internal-user"));
    assert_eq!(seen[0].headers["true-client-ip"], "1.2.3.4");
    assert_healthy(&gw, &up).await;
}

/// The backend's `Server` header (software and version) is removed by
/// default, kept with `server_header: keep`, replaced with `{ set: .. }`.
#[tokio::test]
async fn backend_server_header_is_removed_or_replaced() {
    let up = Upstream::start_with("up", |_| {
        let mut resp = http::Response::new(http_body_util::Full::new(bytes::Bytes::from("hi")));
        resp.headers_mut().insert(
            "server",
            http::HeaderValue::from_static("Apache/2.4.49 (Unix)"),
        );
        Some(resp)
    })
    .await;
    let raw = "GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (extra, want) in [
        ("", None),
        (", server_header: keep", Some("Apache/2.4.49 (Unix)")),
        (", server_header: { set: edge }", Some("edge")),
    ] {
        let gw = Gateway::start(&config(up.addr, extra));
        let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
        assert_eq!(statuses(&reply), [200], "{reply}");
        let server: Option<&str> = reply.lines().find_map(|l| {
            l.strip_prefix("server: ")
                .or_else(|| l.strip_prefix("Server: "))
        });
        assert_eq!(server.map(str::trim), want, "{extra}: {reply}");
    }
}
