//! Header rewriting between client and upstream: hop-by-hop removal
//! (RFC 9110 §7.6.1) and the forwarding headers backends rely on.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::listener::client_ip::ClientIp;

/// Hop-by-hop fields that never cross the proxy, besides those that
/// `Connection` names.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Client-supplied forwarding fields. From an untrusted peer they are lies
/// until proven otherwise, so they are removed and set afresh.
const FORWARDING: [HeaderName; 9] = [
    header::FORWARDED,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-forwarded-server"),
    HeaderName::from_static("x-forwarded-client-cert"),
    HeaderName::from_static("x-real-ip"),
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// True for an HTTP/1.1 upgrade request (`Connection: upgrade` + `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has(headers, "upgrade")
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value
            .to_str()
            .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Removes hop-by-hop fields, including every field `Connection` names.
/// `keep_upgrade` preserves `Upgrade` (and re-adds `Connection: upgrade`) for
/// a WebSocket-style tunnel.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Names listed in Connection are collected first; a client can list any
    // field here, and all of them are hop-by-hop by definition.
    let mut listed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            // The common `keep-alive` is removed below anyway: no allocation.
            if token.eq_ignore_ascii_case(b"keep-alive") {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token) {
                listed.push(name);
            }
        }
    }
    for name in listed {
        if keep_upgrade && name == header::UPGRADE {
            continue;
        }
        headers.remove(name);
    }
    // The fixed set: one pass over the names present, then removals of only
    // those (a `remove` of an absent name still hashes it).
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            if *name == header::UPGRADE {
                !keep_upgrade
            } else {
                HOP_BY_HOP.contains(name)
            }
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Removes every field of `names` present, hashing only those present.
fn remove_present(headers: &mut HeaderMap, names: &[HeaderName]) {
    let present: Vec<HeaderName> = headers
        .keys()
        .filter(|name| names.contains(name))
        .cloned()
        .collect();
    for name in present {
        headers.remove(name);
    }
}

/// Facts about the hop the request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    /// The immediate peer (after a trusted PROXY header).
    pub peer_ip: IpAddr,
    pub peer_trusted: bool,
    pub client_ip: ClientIp,
    /// The client's `Host` (or `:authority`), as received.
    pub host: Option<&'a HeaderValue>,
    pub proto: &'static str,
}

/// Sets `X-Forwarded-*`, `X-Real-IP` and `X-Request-Id` for the upstream.
/// From an untrusted peer every client-sent forwarding field is replaced;
/// from a trusted proxy `X-Forwarded-For` is appended to and its
/// `X-Forwarded-Proto`/`-Host`/`Forwarded` are kept.
pub fn set_forwarding_headers(headers: &mut HeaderMap, hop: Hop<'_>, request_id: &HeaderValue) {
    let client = ip_value(hop.client_ip.addr());
    if hop.peer_trusted {
        let joined = match joined_values(headers, &X_FORWARDED_FOR) {
            Some(prior) => format!("{prior}, {}", hop.peer_ip),
            None => hop.peer_ip.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            headers.insert(
                X_FORWARDED_PROTO.clone(),
                HeaderValue::from_static(hop.proto),
            );
        }
        if !headers.contains_key(&X_FORWARDED_HOST)
            && let Some(host) = hop.host
        {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
    } else {
        remove_present(headers, &FORWARDING);
        // From an untrusted peer the client is the peer: one value, shared.
        let peer = if hop.peer_ip == hop.client_ip.addr() {
            client.clone()
        } else {
            ip_value(hop.peer_ip)
        };
        headers.insert(X_FORWARDED_FOR.clone(), peer);
        headers.insert(
            X_FORWARDED_PROTO.clone(),
            HeaderValue::from_static(hop.proto),
        );
        if let Some(host) = hop.host {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
    }
    headers.insert(X_REAL_IP.clone(), client);
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
}

/// An IP address as a header value, formatted on the stack.
fn ip_value(ip: IpAddr) -> HeaderValue {
    use std::io::Write;
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let len = match write!(cursor, "{ip}") {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    };
    HeaderValue::from_bytes(&buf[..len]).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// All lines of a header joined with ", " (None when absent or not text).
fn joined_values(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for value in headers.get_all(name) {
        let text = value.to_str().ok()?;
        match &mut out {
            Some(s) => {
                s.push_str(", ");
                s.push_str(text);
            }
            None => out = Some(text.to_owned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(trusted: bool) -> Hop<'static> {
        static HOST: HeaderValue = HeaderValue::from_static("example.com");
        Hop {
            peer_ip: "10.0.0.9".parse().unwrap(),
            peer_trusted: trusted,
            client_ip: ClientIp::from_trusted_source("203.0.113.7".parse().unwrap()),
            host: Some(&HOST),
            proto: "http",
        }
    }

    #[test]
    fn strips_hop_by_hop_and_connection_listed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("upgrade", HeaderValue::from_static("h2c"));
        h.insert("proxy-authorization", HeaderValue::from_static("x"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn connection_tokens_match_names_case_insensitively() {
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("close"));
        h.append("connection", HeaderValue::from_static(" X-Secret ,Other"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("other", HeaderValue::from_static("1"));
        h.insert("close", HeaderValue::from_static("1"));
        h.insert("x-secret-not", HeaderValue::from_static("1"));
        h.insert("upgrade", HeaderValue::from_static("h2c"));
        strip_hop_by_hop(&mut h, false);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-secret-not"]);
    }

    #[test]
    fn keeps_upgrade_for_tunnels() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
    }

    #[test]
    fn untrusted_peer_forwarding_headers_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        h.insert("x-real-ip", HeaderValue::from_static("1.1.1.1"));
        h.insert("forwarded", HeaderValue::from_static("for=1.1.1.1"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let id = HeaderValue::from_static("id1");
        set_forwarding_headers(&mut h, hop(false), &id);
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(h["x-real-ip"], "203.0.113.7");
        assert!(!h.contains_key("forwarded"));
        assert_eq!(h["x-request-id"], "id1");
    }

    #[test]
    fn trusted_peer_chain_is_appended() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let id = HeaderValue::from_static("id1");
        set_forwarding_headers(&mut h, hop(true), &id);
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.1.1.1, 10.0.0.9");
        assert_eq!(h["x-forwarded-proto"], "https");
    }
}
