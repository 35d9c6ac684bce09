//! Who the client is: the peer address versus the resolved client IP.
//!
//! Policies key on [`ClientIp`] only. It can be built from a trusted
//! resolution (this module) and nothing else, so a limit cannot key on the raw
//! peer address behind a load balancer by mistake.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::HeaderMap;
use http::header::HeaderName;

use crate::net::cidr_table::CidrTable;

/// The TCP peer of a connection (or the source named by a trusted PROXY header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The client address every policy keys on, resolved through trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    pub fn addr(self) -> IpAddr {
        self.0
    }

    /// For tests and for sources that are the client by construction.
    pub fn from_trusted_source(ip: IpAddr) -> Self {
        Self(ip)
    }
}

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The CIDRs whose forwarding headers and PROXY headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub table: CidrTable<()>,
}

impl TrustedProxies {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.table.contains(ip)
    }
}

/// `http` has no constant for this de-facto standard header.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// At most this many `X-Forwarded-For` entries are examined per request, so a
/// huge header costs bounded work.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// Resolves the client IP of a request that arrived from `peer`.
///
/// `X-Forwarded-For` (all its header lines, in order) is walked right to left
/// starting from `peer`, and only while the hop that supplied an entry is
/// trusted; the first untrusted address is the client. From an untrusted peer
/// the header is ignored. `X-Real-IP` and `Forwarded` are never believed.
///
/// Details:
/// - when every address is trusted, the leftmost one is the client;
/// - an entry that is not an address (`unknown`, an empty entry, a header line
///   that is not ASCII) stops the walk: the client is the last good hop, that
///   is the trusted proxy that handed us the garbage — everything to its left
///   is unverifiable;
/// - entries may be `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]`, `1.2.3.4:5678`
///   or `[2001:db8::1]:80` (ports are dropped);
/// - at most [`MAX_FORWARDED_HOPS`] entries are examined; if all of them are
///   trusted the last one examined is the client;
/// - the result is canonical: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`,
///   from a dual-stack socket) becomes the IPv4 address, so policies keyed on
///   the client see one form per client.
pub fn resolve_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientIp {
    ClientIp(walk_forwarded_for(peer, headers, trusted).to_canonical())
}

fn walk_forwarded_for(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    // Invariant: `current` is trusted whenever the loop continues, so the
    // entry to its left was written by someone we believe.
    let mut current = peer;
    if !trusted.is_trusted(current) {
        return current;
    }
    let mut examined = 0;
    for line in headers.get_all(X_FORWARDED_FOR).iter().rev() {
        let Ok(line) = line.to_str() else {
            return current;
        };
        for entry in line.rsplit(',') {
            if examined == MAX_FORWARDED_HOPS {
                return current;
            }
            examined += 1;
            let Some(ip) = parse_forwarded_entry(entry) else {
                return current;
            };
            current = ip;
            if !trusted.is_trusted(current) {
                return current;
            }
        }
    }
    current
}

/// Parses one `X-Forwarded-For` entry: an address, optionally bracketed (v6)
/// and optionally followed by a port. Allocation-free.
pub fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim_matches(|c| c == ' ' || c == '\t');
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    // `1.2.3.4:5678` and `[::1]:80`.
    entry.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::cidr_table::parse_cidr;
    use http::HeaderValue;

    fn trusted(cidrs: &[&str]) -> TrustedProxies {
        let mut t = TrustedProxies::default();
        for c in cidrs {
            t.table.insert(parse_cidr(c).unwrap(), ());
        }
        t
    }

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(X_FORWARDED_FOR, HeaderValue::from_bytes(l).unwrap());
        }
        h
    }

    fn resolve(peer: &str, lines: &[&[u8]], t: &TrustedProxies) -> String {
        resolve_client_ip(peer.parse().unwrap(), &headers(lines), t).to_string()
    }

    #[test]
    fn table_of_cases() {
        let lb = trusted(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let none = trusted(&[]);
        #[rustfmt::skip]
        let cases: &[(&str, &[&[u8]], &TrustedProxies, &str)] = &[
            // No trusted proxies: the peer, whatever the header says.
            ("203.0.113.9", &[b"1.1.1.1"], &none, "203.0.113.9"),
            ("10.0.0.1", &[b"1.1.1.1"], &none, "10.0.0.1"),
            // Untrusted peer behind a trust list: header ignored.
            ("203.0.113.9", &[b"1.1.1.1"], &lb, "203.0.113.9"),
            // Trusted peer, no header: the peer itself.
            ("10.0.0.1", &[], &lb, "10.0.0.1"),
            // One trusted hop.
            ("10.0.0.1", &[b"198.51.100.7"], &lb, "198.51.100.7"),
            // Chain of trusted hops.
            ("10.0.0.1", &[b"198.51.100.7, 10.0.0.2, 10.0.0.3"], &lb, "198.51.100.7"),
            // Everything trusted: the leftmost.
            ("10.0.0.1", &[b"10.0.0.5, 10.0.0.2"], &lb, "10.0.0.5"),
            // Several header lines are one list, in order of appearance.
            ("10.0.0.1", &[b"192.0.2.1", b"198.51.100.7, 10.0.0.2"], &lb, "198.51.100.7"),
            ("10.0.0.1", &[b"192.0.2.1", b"10.0.0.2"], &lb, "192.0.2.1"),
            // Spoofing: the client's own claim sits left of the real client.
            ("10.0.0.1", &[b"1.1.1.1, 198.51.100.7"], &lb, "198.51.100.7"),
            ("10.0.0.1", &[b"1.1.1.1", b"198.51.100.7"], &lb, "198.51.100.7"),
            ("10.0.0.1", &[b"10.0.0.99, 198.51.100.7"], &lb, "198.51.100.7"),
            // IPv6 in every accepted form.
            ("2001:db8:ffff::1", &[b"2001:db8::42"], &lb, "2001:db8::42"),
            ("2001:db8:ffff::1", &[b"[2001:db8::42]"], &lb, "2001:db8::42"),
            ("2001:db8:ffff::1", &[b"[2001:db8::42]:4430"], &lb, "2001:db8::42"),
            ("10.0.0.1", &[b"2001:db8::42, 2001:db8:ffff::9"], &lb, "2001:db8::42"),
            // Ports on IPv4.
            ("10.0.0.1", &[b"198.51.100.7:5678"], &lb, "198.51.100.7"),
            // Garbage stops the walk at the last good (trusted) hop.
            ("10.0.0.1", &[b"unknown"], &lb, "10.0.0.1"),
            ("10.0.0.1", &[b"198.51.100.7, garbage, 10.0.0.2"], &lb, "10.0.0.2"),
            ("10.0.0.1", &[b"198.51.100.7,,"], &lb, "10.0.0.1"),
            ("10.0.0.1", &[b""], &lb, "10.0.0.1"),
            ("10.0.0.1", &[b"198.51.100.7, 300.1.1.1"], &lb, "10.0.0.1"),
            ("10.0.0.1", &[b"1.2.3.4\xff"], &lb, "10.0.0.1"),
            ("10.0.0.1", &[b"[::1"], &lb, "10.0.0.1"),
            // Whitespace around entries is fine.
            ("10.0.0.1", &[b"  198.51.100.7\t,  10.0.0.2 "], &lb, "198.51.100.7"),
            // Dual-stack peer: the mapped form is trusted as IPv4 and the
            // result is canonical.
            ("::ffff:10.0.0.1", &[b"198.51.100.7"], &lb, "198.51.100.7"),
            ("::ffff:203.0.113.9", &[b"1.1.1.1"], &lb, "203.0.113.9"),
            ("10.0.0.1", &[b"::ffff:198.51.100.7"], &lb, "198.51.100.7"),
        ];
        for (peer, lines, t, want) in cases {
            assert_eq!(&resolve(peer, lines, t), want, "peer {peer} xff {lines:?}");
        }
    }

    #[test]
    fn work_is_bounded() {
        let lb = trusted(&["10.0.0.0/8"]);
        // 1000 trusted entries with a client at the far left: only 32 are
        // examined, so the 32nd from the right is reported.
        let mut line = String::from("198.51.100.7");
        for i in 0..1000 {
            line.push_str(&format!(", 10.0.{}.{}", i / 256, i % 256));
        }
        let got = resolve("10.0.0.1", &[line.as_bytes()], &lb);
        assert_eq!(
            got,
            format!("10.0.{}.{}", (1000 - 32) / 256, (1000 - 32) % 256)
        );
        assert_ne!(got, "198.51.100.7");
    }

    #[test]
    fn entry_parsing() {
        assert_eq!(
            parse_forwarded_entry(" 1.2.3.4 "),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            parse_forwarded_entry("[::1]:80"),
            Some("::1".parse().unwrap())
        );
        assert_eq!(parse_forwarded_entry("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_forwarded_entry("[1.2.3.4]"), None);
        assert_eq!(parse_forwarded_entry("1.2.3.4:99999"), None);
        assert_eq!(parse_forwarded_entry("_hidden"), None);
        assert_eq!(parse_forwarded_entry(""), None);
    }
}
