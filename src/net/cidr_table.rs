//! A longest-prefix-match table of IPv4 and IPv6 CIDRs.
//!
//! Used by trusted proxies, `ip_filter` and (later) threat feeds and
//! connection-limit overrides: lookups stay fast with 100k+ prefixes.

use std::net::IpAddr;

use ipnet::IpNet;

/// Maps CIDR prefixes to values; a lookup returns the value of the most
/// specific prefix containing the address.
#[derive(Debug, Clone)]
pub struct CidrTable<T> {
    _v: Vec<(IpNet, T)>,
}

impl<T> Default for CidrTable<T> {
    fn default() -> Self {
        Self { _v: Vec::new() }
    }
}

impl<T> CidrTable<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces) the value for `net`.
    pub fn insert(&mut self, net: IpNet, value: T) {
        let _ = (net, value);
        todo!("H3")
    }

    /// The value of the most specific prefix that contains `ip`.
    pub fn longest_match(&self, ip: IpAddr) -> Option<&T> {
        let _ = ip;
        todo!("H3")
    }

    /// The value stored for exactly `net`.
    pub fn get_exact(&self, net: IpNet) -> Option<&T> {
        let _ = net;
        todo!("H3")
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.longest_match(ip).is_some()
    }

    pub fn len(&self) -> usize {
        todo!("H3")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
/// Host bits set below the prefix length are an error (`10.0.0.1/8`), since
/// they usually mean a typo.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "{text:?} has host bits set (did you mean {}?)",
                net.trunc()
            ));
        }
        return Ok(net);
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{text:?} is not an IP address or CIDR"))
}
