//! Attack suite, request smuggling: ambiguous or malformed HTTP/1 framing sent
//! over raw sockets to the real gateway. Each attack must get its status
//! (400 unless said otherwise) and the backend must see exactly the requests
//! the gateway parsed, re-framed, and nothing of the smuggled material.

mod common;

use common::attack::*;

/// Heads the framing guard refuses: the client gets one 400, the backend
/// sees nothing.
const REFUSED: &[(&str, &str)] = &[
    (
        "CL.TE",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    ),
    (
        "TE.CL",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n1e\r\nGET /smuggled HTTP/1.1\r\nX: \r\n0\r\n\r\n",
    ),
    (
        "TE xchunked",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE chunked, identity",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE identity, then chunked line",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE duplicated",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE quoted",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE vertical tab",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE space before colon",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE line folded onto the previous",
        "POST / HTTP/1.1\r\nHost: x\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "TE on HTTP/1.0",
        "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "two Content-Lengths",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
    (
        "Content-Length list",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
    ),
    (
        "Content-Length +5",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    ),
    (
        "Content-Length 1e3",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\nhello",
    ),
    (
        "Content-Length -1",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    ),
    (
        "Content-Length overflow",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
    ),
    ("bare LF in request line", "GET / HTTP/1.1\nHost: x\r\n\r\n"),
    (
        "bare LF in headers",
        "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
    ),
    ("bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n"),
    ("bare CR", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n"),
    (
        "obs-fold",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    ),
    (
        "NUL in value",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n",
    ),
    (
        "NUL in name",
        "GET / HTTP/1.1\r\nHost: x\r\nX\0Y: a\r\n\r\n",
    ),
    (
        "control byte in value",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
    ),
    (
        "DEL in value",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n",
    ),
    (
        "space in name",
        "GET / HTTP/1.1\r\nHost: x\r\nX Y: a\r\n\r\n",
    ),
    ("NUL in target", "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n"),
    ("missing Host", "GET / HTTP/1.1\r\n\r\n"),
];

#[tokio::test]
async fn ambiguous_heads_get_400_and_never_reach_the_backend() {
    let (gw, up) = setup("").await;
    for (name, raw) in REFUSED {
        let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
        assert_eq!(statuses(&reply), [400], "{name}: {reply}");
        assert_eq!(up.count(), 0, "{name}: {:?}", up.seen());
    }
    assert_healthy(&gw, &up).await;
}

/// Valid per RFC 9112 although they look like obfuscations: field values
/// may start with optional whitespace, SP or HTAB (`OWS`, §5), so both are
/// plain `chunked`. The backend gets the body re-framed.
#[tokio::test]
async fn whitespace_before_chunked_is_valid_and_reframed() {
    let (gw, up) = setup("").await;
    for te in [
        "Transfer-Encoding:\tchunked",
        "Transfer-Encoding:   chunked \t",
    ] {
        let raw = format!(
            "POST /te HTTP/1.1\r\nHost: x\r\n{te}\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        );
        let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
        assert_eq!(statuses(&reply), [200], "{te:?}: {reply}");
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(
            (s.method.as_str(), s.uri.as_str(), s.body_len),
            ("POST", "/te", 11)
        );
    }
    assert_healthy(&gw, &up).await;
}

/// Chunked bodies whose framing breaks after the head was accepted: the
/// body is aborted, so the backend never gets a complete request (at most a
/// truncated body) and nothing after it; the client never gets a success.
#[tokio::test]
async fn broken_chunked_bodies_are_aborted() {
    let (gw, up) = setup("").await;
    let head = "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let long_ext = format!("5;{}\r\nhello\r\n0\r\n\r\n", "a=b;".repeat(8 * 1024));
    let bodies = [
        ("bare LF after size", "5\nhello\r\n0\r\n\r\n".to_string()),
        ("bare LF after data", "5\r\nhello\n0\r\n\r\n".to_string()),
        ("bare CR in size line", "5\rhello\r\n0\r\n\r\n".to_string()),
        (
            "size overflow",
            "1FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n".to_string(),
        ),
        ("non-hex size", "5g\r\nhello\r\n0\r\n\r\n".to_string()),
        ("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n".to_string()),
        (
            "NUL in extension",
            "5;a\0\r\nhello\r\n0\r\n\r\n".to_string(),
        ),
        ("huge extension", long_ext),
        ("bad terminator", "5\r\nhelloXX0\r\n\r\n".to_string()),
        ("data past size", "3\r\nhello\r\n0\r\n\r\n".to_string()),
        ("bare LF in trailer", "0\r\nX: y\n\r\n".to_string()),
    ];
    for (i, (name, body)) in bodies.iter().enumerate() {
        let head = head.replace("/chunked", &format!("/chunked/{i}"));
        let reply = exchange(gw.addr("web"), format!("{head}{body}{smuggled}").as_bytes()).await;
        let codes = statuses(&reply);
        assert!(
            codes.iter().all(|c| *c >= 400) && codes.len() <= 1,
            "{name}: {reply}"
        );
    }
    assert_healthy(&gw, &up).await;
    // The upstream may have got the head and the bytes before the fault
    // (bodies stream), but every such body was aborted, and nothing after
    // it arrived.
    for s in up.seen() {
        if s.uri == "/health-probe" {
            continue;
        }
        assert!(s.uri.starts_with("/chunked/"), "{s:?}");
        assert!(s.body_error, "a complete body reached the backend: {s:?}");
    }
}

/// A request line inside a body is data: the backend sees exactly the
/// requests the gateway parsed, with the smuggled text as body bytes.
#[tokio::test]
async fn requests_inside_bodies_stay_data() {
    let (gw, up) = setup("").await;
    let inner = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let raw = format!(
        "POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{inner}\
         POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n0\r\n\r\n{inner}\r\n0\r\n\r\n\
         GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        inner.len(),
        inner.len() + 5,
    );
    let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
    assert_eq!(statuses(&reply), [200, 200, 200], "{reply}");
    let seen = up.seen();
    let got: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.uri.as_str(), s.body_len))
        .collect();
    assert_eq!(
        got,
        [
            ("POST", "/cl", inner.len()),
            ("POST", "/te", inner.len() + 5),
            ("GET", "/after", 0)
        ]
    );
    // Re-framed: a length the backend can trust, never both framings.
    assert_eq!(seen[0].headers["content-length"], inner.len().to_string());
    for s in &seen {
        assert!(
            !(s.headers.contains_key("content-length")
                && s.headers.contains_key("transfer-encoding")),
            "{s:?}"
        );
    }
    assert_healthy(&gw, &up).await;
}

#[tokio::test]
async fn pipelined_valid_then_invalid() {
    let (gw, up) = setup("").await;
    let raw = "GET /first HTTP/1.1\r\nHost: x\r\n\r\n\
               GET /second HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
               GET /third HTTP/1.1\r\nHost: x\r\n\r\n";
    let reply = exchange(gw.addr("web"), raw.as_bytes()).await;
    assert_eq!(statuses(&reply), [200, 400], "{reply}");
    assert_eq!(seen_paths(&up), ["/first"]);
    assert_healthy(&gw, &up).await;
}

/// A request that asks to switch protocols (`Upgrade`, with or without
/// `Connection: upgrade`, or CONNECT) makes the guard stop judging what
/// follows, which could be a tunnel. When no tunnel opens, the gateway must
/// close the connection after its answer, or the requests after it would
/// reach hyper unjudged (here CL+TE would get a 200 from the backend).
#[tokio::test]
async fn refused_upgrades_end_the_connection() {
    let (gw, up) = setup("").await;
    let firsts = [
        (
            "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
            200,
        ),
        (
            "GET /admin HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            403,
        ),
        ("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 400),
    ];
    let next = "POST /next HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    for (first, status) in firsts {
        let reply = exchange(gw.addr("web"), format!("{first}{next}").as_bytes()).await;
        assert_eq!(statuses(&reply), [status], "{first:?}: {reply}");
        assert!(reply.contains("connection: close"), "{reply}");
    }
    assert_eq!(seen_paths(&up), ["/up"]);
    assert_healthy(&gw, &up).await;
}
