//! `ip_filter`: allow and deny CIDR lists on the resolved client IP.
//!
//! Runs in the policy stage on [`ClientIp`] (never the raw peer), with one
//! longest-prefix-match lookup per request.

use crate::config::spec::{FilterAction, IpFilterSpec};
use crate::listener::client_ip::ClientIp;
use crate::net::cidr_table::{CidrTable, parse_cidr};

/// A compiled filter: one longest-prefix-match table for both lists.
///
/// Semantics:
/// - the most specific prefix containing the address decides (so
///   `deny 10.0.0.0/8` + `allow 10.1.0.0/16` lets `10.1.2.3` through);
/// - a prefix listed in both `allow` and `deny` denies (deny is inserted last);
/// - no match: `spec.default`, or when unset `Deny` if `allow` is non-empty
///   (an allow list is an allow-*only* list) and `Allow` otherwise;
/// - IPv4-mapped IPv6 clients are matched against IPv4 entries (see
///   [`CidrTable`]).
#[derive(Debug)]
pub struct IpFilter {
    table: CidrTable<FilterAction>,
    default: FilterAction,
}

impl IpFilter {
    /// Errors name the offending entry and the list it was in.
    pub fn compile(spec: &IpFilterSpec) -> Result<Self, String> {
        let mut table = CidrTable::new();
        for (list, action) in [
            (&spec.allow, FilterAction::Allow),
            (&spec.deny, FilterAction::Deny),
        ] {
            for entry in list {
                let net = parse_cidr(entry).map_err(|e| {
                    let name = if action == FilterAction::Allow {
                        "allow"
                    } else {
                        "deny"
                    };
                    format!("ip_filter.{name}: {e}")
                })?;
                table.insert(net, action);
            }
        }
        let default = spec.default.unwrap_or(if spec.allow.is_empty() {
            FilterAction::Allow
        } else {
            FilterAction::Deny
        });
        Ok(Self { table, default })
    }

    /// The most specific matching prefix decides; on a tie deny wins.
    pub fn check(&self, ip: ClientIp) -> FilterAction {
        self.table
            .longest_match(ip.addr())
            .copied()
            .unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilterAction::{Allow, Deny};

    fn spec(allow: &[&str], deny: &[&str], default: Option<FilterAction>) -> IpFilterSpec {
        IpFilterSpec {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            default,
        }
    }

    fn check(f: &IpFilter, ip: &str) -> FilterAction {
        f.check(ClientIp::from_trusted_source(ip.parse().unwrap()))
    }

    #[test]
    fn most_specific_prefix_decides() {
        let f = IpFilter::compile(&spec(
            &["10.1.0.0/16"],
            &["10.0.0.0/8", "10.1.2.0/24"],
            None,
        ))
        .unwrap();
        assert_eq!(check(&f, "10.1.9.9"), Allow);
        assert_eq!(check(&f, "10.1.2.3"), Deny);
        assert_eq!(check(&f, "10.2.0.1"), Deny);
        // Unmatched with a non-empty allow list: deny.
        assert_eq!(check(&f, "192.0.2.1"), Deny);
    }

    #[test]
    fn deny_wins_a_tie() {
        let f = IpFilter::compile(&spec(&["192.0.2.0/24"], &["192.0.2.0/24"], None)).unwrap();
        assert_eq!(check(&f, "192.0.2.1"), Deny);
        // Also when the two spellings differ but mean the same prefix.
        let f = IpFilter::compile(&spec(
            &["198.51.100.0/24"],
            &["::ffff:198.51.100.0/120"],
            None,
        ))
        .unwrap();
        assert_eq!(check(&f, "198.51.100.1"), Deny);
    }

    #[test]
    fn defaults() {
        let deny_only = IpFilter::compile(&spec(&[], &["192.0.2.0/24"], None)).unwrap();
        assert_eq!(check(&deny_only, "192.0.2.1"), Deny);
        assert_eq!(check(&deny_only, "198.51.100.1"), Allow);
        let explicit = IpFilter::compile(&spec(&["192.0.2.0/24"], &[], Some(Allow))).unwrap();
        assert_eq!(check(&explicit, "198.51.100.1"), Allow);
        let closed = IpFilter::compile(&spec(&[], &[], Some(Deny))).unwrap();
        assert_eq!(check(&closed, "198.51.100.1"), Deny);
        let empty = IpFilter::compile(&spec(&[], &[], None)).unwrap();
        assert_eq!(check(&empty, "2001:db8::1"), Allow);
    }

    #[test]
    fn ipv6_and_mapped_clients() {
        let f = IpFilter::compile(&spec(
            &["2001:db8::/32", "203.0.113.0/24"],
            &["2001:db8:bad::/48"],
            None,
        ))
        .unwrap();
        assert_eq!(check(&f, "2001:db8:1::1"), Allow);
        assert_eq!(check(&f, "2001:db8:bad::1"), Deny);
        assert_eq!(check(&f, "2001:db9::1"), Deny);
        assert_eq!(check(&f, "::ffff:203.0.113.5"), Allow);
        let d = IpFilter::compile(&spec(&[], &["203.0.113.0/24"], None)).unwrap();
        assert_eq!(check(&d, "::ffff:203.0.113.5"), Deny);
    }

    #[test]
    fn compile_errors_name_the_entry() {
        let e = IpFilter::compile(&spec(&["10.0.0.0/8", "bogus"], &[], None)).unwrap_err();
        assert!(e.contains("bogus") && e.contains("allow"), "{e}");
        let e = IpFilter::compile(&spec(&[], &["10.0.0.1/8"], None)).unwrap_err();
        assert!(e.contains("10.0.0.1/8") && e.contains("deny"), "{e}");
    }

    #[test]
    fn hundred_thousand_prefixes() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut deny = Vec::with_capacity(100_000);
        let mut denied_hosts = Vec::new();
        for i in 0..100_000u32 {
            // Distinct /24s inside 10.0.0.0/8 and /64s inside 2001:db8::/32.
            if i % 2 == 0 {
                let n = i / 2;
                deny.push(format!("10.{}.{}.0/24", (n >> 8) & 0xff, n & 0xff));
                denied_hosts.push(format!(
                    "10.{}.{}.{}",
                    (n >> 8) & 0xff,
                    n & 0xff,
                    rng.u8(..)
                ));
            } else {
                deny.push(format!("2001:db8:{:x}:{:x}::/64", i >> 16, i & 0xffff));
            }
        }
        let deny_refs: Vec<&str> = deny.iter().map(String::as_str).collect();
        let f =
            IpFilter::compile(&spec(&["10.0.0.0/8", "2001:db8::/32"], &deny_refs, None)).unwrap();
        for h in denied_hosts.iter().step_by(97) {
            assert_eq!(check(&f, h), Deny, "{h}");
        }
        assert_eq!(check(&f, "2001:db8:0:3::1"), Deny);
        assert_eq!(check(&f, "2001:db8:1:869f::1"), Deny); // i = 99,999
        assert_eq!(check(&f, "2001:db8:2::1"), Allow);
        // Even /24 numbers stop at 10.195.79.0 (n < 50,000), so this is allowed.
        assert_eq!(check(&f, "10.200.0.1"), Allow);
        assert_eq!(check(&f, "11.0.0.1"), Deny);
    }
}
