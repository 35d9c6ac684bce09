//! A longest-prefix-match table of IPv4 and IPv6 CIDRs.
//!
//! Used by trusted proxies, `ip_filter` and (later) threat feeds and
//! connection-limit overrides: lookups stay fast with 100k+ prefixes.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are looked up in the IPv4
//! table: a client reaching a dual-stack socket shows up with a mapped address
//! and must still meet the IPv4 rules written for it. For the same reason an
//! inserted prefix inside `::ffff:0:0/96` is stored as the IPv4 prefix it
//! covers. An IPv6 prefix shorter than /96 that happens to contain the mapped
//! range (such as `::/0`) does *not* match IPv4 clients: IPv4 rules are written
//! as IPv4 CIDRs.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

/// Maps CIDR prefixes to values; a lookup returns the value of the most
/// specific prefix containing the address.
#[derive(Debug, Clone)]
pub struct CidrTable<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> Default for CidrTable<T> {
    fn default() -> Self {
        Self {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }
}

impl<T> CidrTable<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces) the value for `net`. Host bits below the prefix
    /// length are ignored (`10.0.0.1/8` is `10.0.0.0/8`).
    pub fn insert(&mut self, net: IpNet, value: T) {
        match normalize(net) {
            IpNet::V4(n) => {
                self.v4.insert(n, value);
            }
            IpNet::V6(n) => {
                self.v6.insert(n, value);
            }
        }
    }

    /// The value of the most specific prefix that contains `ip`.
    pub fn longest_match(&self, ip: IpAddr) -> Option<&T> {
        self.longest_match_with_prefix(ip).map(|(_, v)| v)
    }

    /// Like [`Self::longest_match`], also naming the prefix that matched (in
    /// its stored form: mapped IPv6 prefixes come back as IPv4).
    pub fn longest_match_with_prefix(&self, ip: IpAddr) -> Option<(IpNet, &T)> {
        match ip.to_canonical() {
            IpAddr::V4(a) => self
                .v4
                .get_lpm(&Ipv4Net::from(a))
                .map(|(p, v)| (IpNet::V4(p), v)),
            IpAddr::V6(a) => self
                .v6
                .get_lpm(&Ipv6Net::from(a))
                .map(|(p, v)| (IpNet::V6(p), v)),
        }
    }

    /// The value stored for exactly `net`.
    pub fn get_exact(&self, net: IpNet) -> Option<&T> {
        match normalize(net) {
            IpNet::V4(n) => self.v4.get(&n),
            IpNet::V6(n) => self.v6.get(&n),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.longest_match(ip).is_some()
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Truncates host bits and turns a prefix inside `::ffff:0:0/96` into the IPv4
/// prefix it denotes, so it lands in the table mapped lookups consult.
fn normalize(net: IpNet) -> IpNet {
    match net.trunc() {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.addr().to_ipv4_mapped() {
            // The subtraction cannot underflow (checked above) and the result
            // is at most 32, so `new` cannot fail; fall back to the v6 form
            // anyway rather than panic.
            Some(v4) => Ipv4Net::new(v4, n.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(IpNet::V6(n)),
            None => IpNet::V6(n),
        },
        other => other,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn net(s: &str) -> IpNet {
        parse_cidr(s).unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_v4() {
        let mut t = CidrTable::new();
        t.insert(net("10.0.0.0/8"), 8);
        t.insert(net("10.1.0.0/16"), 16);
        t.insert(net("10.1.2.0/24"), 24);
        t.insert(net("10.1.2.3"), 32);
        assert_eq!(t.longest_match(ip("10.9.9.9")), Some(&8));
        assert_eq!(t.longest_match(ip("10.1.9.9")), Some(&16));
        assert_eq!(t.longest_match(ip("10.1.2.9")), Some(&24));
        assert_eq!(t.longest_match(ip("10.1.2.3")), Some(&32));
        assert_eq!(t.longest_match(ip("11.0.0.1")), None);
        assert_eq!(t.len(), 4);
        assert!(!t.contains(ip("2001:db8::1")));
    }

    #[test]
    fn default_route_matches_everything_in_its_family() {
        let mut t = CidrTable::new();
        t.insert(net("0.0.0.0/0"), "v4");
        assert_eq!(t.longest_match(ip("203.0.113.7")), Some(&"v4"));
        assert_eq!(t.longest_match(ip("::1")), None);
        t.insert(net("::/0"), "v6");
        assert_eq!(t.longest_match(ip("::1")), Some(&"v6"));
    }

    #[test]
    fn longest_prefix_wins_v6() {
        let mut t = CidrTable::new();
        t.insert(net("2001:db8::/32"), 32);
        t.insert(net("2001:db8:abcd::/48"), 48);
        assert_eq!(t.longest_match(ip("2001:db8:abcd::1")), Some(&48));
        assert_eq!(t.longest_match(ip("2001:db8:1::1")), Some(&32));
        assert_eq!(t.longest_match(ip("2001:db9::1")), None);
        assert_eq!(t.longest_match(ip("10.0.0.1")), None);
        let (p, v) = t.longest_match_with_prefix(ip("2001:db8:abcd::9")).unwrap();
        assert_eq!((p, *v), (net("2001:db8:abcd::/48"), 48));
    }

    #[test]
    fn mapped_addresses_are_looked_up_as_ipv4() {
        let mut t = CidrTable::new();
        t.insert(net("192.0.2.0/24"), "deny");
        assert_eq!(t.longest_match(ip("::ffff:192.0.2.10")), Some(&"deny"));
        assert_eq!(t.longest_match(ip("::ffff:192.0.3.10")), None);
        // A mapped prefix is stored as IPv4 and so also covers plain v4.
        t.insert(net("::ffff:198.51.100.0/120"), "mapped");
        assert_eq!(t.longest_match(ip("198.51.100.1")), Some(&"mapped"));
        assert_eq!(t.get_exact(net("198.51.100.0/24")), Some(&"mapped"));
        assert_eq!(t.get_exact(net("::ffff:198.51.100.0/120")), Some(&"mapped"));
        // Plain IPv6 in the table never matches a mapped address.
        let mut t6 = CidrTable::new();
        t6.insert(net("::/0"), ());
        assert!(!t6.contains(ip("::ffff:1.2.3.4")));
    }

    #[test]
    fn insert_replaces_and_get_exact() {
        let mut t = CidrTable::new();
        t.insert(net("10.0.0.0/8"), 1);
        t.insert(net("10.0.0.0/8"), 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get_exact(net("10.0.0.0/8")), Some(&2));
        assert_eq!(t.get_exact(net("10.0.0.0/9")), None);
        // Host bits are dropped on insert.
        t.insert("10.0.0.1/8".parse().unwrap(), 3);
        assert_eq!(t.len(), 1);
        assert_eq!(t.longest_match(ip("10.2.3.4")), Some(&3));
        assert!(CidrTable::<u8>::new().is_empty());
    }

    #[test]
    fn parse_cidr_forms() {
        assert_eq!(net("10.0.0.0/8").prefix_len(), 8);
        assert_eq!(net(" 192.0.2.1 ").prefix_len(), 32);
        assert_eq!(net("2001:db8::1").prefix_len(), 128);
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("host bits"));
        assert!(parse_cidr("nope").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
    }

    fn random_net(rng: &mut fastrand::Rng) -> IpNet {
        if rng.bool() {
            let len = rng.u8(0..=32);
            IpNet::V4(Ipv4Net::new(rng.u32(..).into(), len).unwrap().trunc())
        } else {
            let len = rng.u8(0..=128);
            // Avoid the mapped range so the brute-force model stays simple.
            let mut a = rng.u128(..);
            if Ipv6Addr::from(a).to_ipv4_mapped().is_some() {
                a ^= 1 << 127;
            }
            IpNet::V6(Ipv6Net::new(a.into(), len).unwrap().trunc())
        }
    }

    #[test]
    fn many_random_prefixes_match_brute_force() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut t = CidrTable::new();
        let mut all: Vec<(IpNet, usize)> = Vec::with_capacity(100_000);
        for i in 0..100_000 {
            let n = random_net(&mut rng);
            t.insert(n, i);
            all.push((n, i));
        }
        // Every inserted prefix is present with its latest value.
        let mut latest = std::collections::HashMap::new();
        for (n, i) in &all {
            latest.insert(*n, *i);
        }
        assert_eq!(t.len(), latest.len());
        for (n, i) in &latest {
            assert_eq!(t.get_exact(*n), Some(i), "{n}");
        }
        // Lookups agree with a linear scan; half the probes are taken from
        // inside inserted prefixes so long prefixes are exercised too. The
        // scan runs over (network, mask) integers so it stays quick unoptimised.
        let entries: Vec<(IpNet, usize)> = latest.into_iter().collect();
        let scan: Vec<(bool, u128, u128, u8, usize)> = entries
            .iter()
            .map(|(n, v)| match n {
                IpNet::V4(n) => (
                    true,
                    u32::from(n.network()).into(),
                    u32::from(n.netmask()).into(),
                    n.prefix_len(),
                    *v,
                ),
                IpNet::V6(n) => (
                    false,
                    u128::from(n.network()),
                    u128::from(n.netmask()),
                    n.prefix_len(),
                    *v,
                ),
            })
            .collect();
        for _ in 0..10_000 {
            let probe: IpAddr = if rng.bool() {
                let (n, _) = entries[rng.usize(..entries.len())];
                match n {
                    IpNet::V4(n) => {
                        let host = rng.u32(..) & !u32::from(n.netmask());
                        IpAddr::V4((u32::from(n.network()) | host).into())
                    }
                    IpNet::V6(n) => {
                        let host = rng.u128(..) & !u128::from(n.netmask());
                        IpAddr::V6((u128::from(n.network()) | host).into())
                    }
                }
            } else if rng.bool() {
                IpAddr::V4(rng.u32(..).into())
            } else {
                IpAddr::V6(rng.u128(..).into())
            };
            let probe = probe.to_canonical();
            let (is_v4, bits) = match probe {
                IpAddr::V4(a) => (true, u128::from(u32::from(a))),
                IpAddr::V6(a) => (false, u128::from(a)),
            };
            let mut best: Option<(u8, usize)> = None;
            for &(fam, network, mask, len, v) in &scan {
                if fam == is_v4 && bits & mask == network && best.is_none_or(|(l, _)| len > l) {
                    best = Some((len, v));
                }
            }
            let expected = best.map(|(_, v)| v);
            assert_eq!(t.longest_match(probe).copied(), expected, "{probe}");
        }
    }
}
