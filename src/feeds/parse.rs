//! Parsing a feed's text into prefixes, off the request path. Bad lines
//! are counted and skipped (never fatal alone); what makes a whole list
//! unusable is refused so the last good list stays: a default route
//! (`0.0.0.0/0` would block everyone) unless allowed, more entries than
//! `max_entries`, no valid entry in a non-empty list, or a Spamhaus list
//! whose closing metadata is missing or disagrees with its record count
//! (a truncated download).

use std::collections::HashSet;

use ipnet::IpNet;

use crate::config::spec_feeds::FeedFormat;
use crate::net::cidr_table::parse_cidr;

/// A parsed list.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Unique prefixes (host bits cleared), in input order.
    pub nets: Vec<IpNet>,
    /// Lines that were not an address, a CIDR, or carried a zone id.
    pub invalid: usize,
    pub duplicates: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub allow_default_route: bool,
    pub max_entries: usize,
}

pub fn parse(text: &str, format: FeedFormat, limits: Limits) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut seen = HashSet::new();
    let mut declared: Option<u64> = None;
    let mut records = 0u64;
    for line in text.lines() {
        let entry = match format {
            FeedFormat::Plain | FeedFormat::Netset | FeedFormat::Ipset => plain_entry(line),
            FeedFormat::SpamhausDrop => match spamhaus_line(line) {
                SpamhausLine::Cidr(c) => {
                    records += 1;
                    Some(c)
                }
                SpamhausLine::Metadata(n) => {
                    declared = Some(n);
                    None
                }
                SpamhausLine::Empty => None,
                SpamhausLine::Bad => {
                    out.invalid += 1;
                    None
                }
            },
        };
        let Some(entry) = entry else { continue };
        let Some(net) = to_net(entry) else {
            out.invalid += 1;
            continue;
        };
        if net.prefix_len() == 0 && !limits.allow_default_route {
            return Err(format!(
                "{net} would match every client; set allow_default_route to accept it"
            ));
        }
        if !seen.insert(net) {
            out.duplicates += 1;
            continue;
        }
        if out.nets.len() >= limits.max_entries {
            return Err(format!("more than {} entries", limits.max_entries));
        }
        out.nets.push(net);
    }
    if format == FeedFormat::SpamhausDrop {
        match declared {
            None => return Err("no metadata line: the download is truncated".to_owned()),
            Some(n) if n != records => {
                return Err(format!(
                    "metadata announces {n} records, {records} received: truncated"
                ));
            }
            Some(_) => {}
        }
    }
    if out.nets.is_empty() && out.invalid > 0 {
        return Err(format!("no valid entry ({} invalid lines)", out.invalid));
    }
    Ok(out)
}

/// The entry of a plain / FireHOL line: text before a comment, trimmed.
fn plain_entry(line: &str) -> Option<&str> {
    let line = line.split(['#', ';']).next().unwrap_or("").trim();
    // FireHOL and many lists put one entry a line; take the first word.
    line.split_whitespace().next()
}

/// Host bits are cleared (feeds publish `1.2.3.4/24` more often than
/// config authors do); a zone id (`fe80::1%eth0`) is refused: it names a
/// local interface, never a remote client.
fn to_net(entry: &str) -> Option<IpNet> {
    if entry.contains('%') {
        return None;
    }
    match parse_cidr(entry) {
        Ok(net) => Some(net),
        Err(_) => entry.parse::<IpNet>().ok().map(|n| n.trunc()),
    }
}

enum SpamhausLine<'a> {
    Cidr(&'a str),
    Metadata(u64),
    Empty,
    Bad,
}

fn spamhaus_line(line: &str) -> SpamhausLine<'_> {
    let line = line.trim();
    if line.is_empty() {
        return SpamhausLine::Empty;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return SpamhausLine::Bad;
    };
    if value.get("type").and_then(|t| t.as_str()) == Some("metadata") {
        return match value.get("records").and_then(|r| r.as_u64()) {
            Some(n) => SpamhausLine::Metadata(n),
            None => SpamhausLine::Bad,
        };
    }
    // The value borrows from `value`; find the same text in `line` instead
    // so the entry borrows from the input.
    match value.get("cidr").and_then(|c| c.as_str()) {
        Some(cidr) => match line.find(cidr) {
            Some(at) => SpamhausLine::Cidr(&line[at..at + cidr.len()]),
            None => SpamhausLine::Bad,
        },
        None => SpamhausLine::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits {
        allow_default_route: false,
        max_entries: 1000,
    };

    #[test]
    fn plain_lists_skip_garbage_comments_and_zone_ids_and_dedupe() {
        let text = "# comment\n192.0.2.0/24\n  198.51.100.7   # trailing\n; also a comment\n\
                    not-an-ip\n300.1.1.1\nfe80::1%eth0\n2001:db8::/32\n192.0.2.0/24\n\
                    192.0.2.9/24\n\n10.0.0.0/8 extra words\n";
        let p = parse(text, FeedFormat::Plain, OPEN).unwrap();
        let nets: Vec<String> = p.nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            nets,
            [
                "192.0.2.0/24",
                "198.51.100.7/32",
                "2001:db8::/32",
                "10.0.0.0/8"
            ]
        );
        assert_eq!(p.invalid, 3, "not-an-ip, 300.1.1.1, the zone id");
        assert_eq!(
            p.duplicates, 2,
            "192.0.2.0/24 twice more (once with host bits)"
        );
    }

    #[test]
    fn overlapping_ranges_are_kept() {
        let p = parse(
            "10.0.0.0/8\n10.1.0.0/16\n10.1.2.3\n",
            FeedFormat::Netset,
            OPEN,
        )
        .unwrap();
        assert_eq!(p.nets.len(), 3);
    }

    #[test]
    fn a_default_route_is_refused_unless_allowed() {
        for line in ["0.0.0.0/0", "::/0"] {
            let err = parse(&format!("192.0.2.1\n{line}\n"), FeedFormat::Plain, OPEN).unwrap_err();
            assert!(err.contains("allow_default_route"), "{err}");
        }
        let allowed = Limits {
            allow_default_route: true,
            ..OPEN
        };
        assert_eq!(
            parse("0.0.0.0/0\n", FeedFormat::Ipset, allowed)
                .unwrap()
                .nets
                .len(),
            1
        );
    }

    #[test]
    fn too_many_entries_or_only_garbage_refuse_the_list() {
        let small = Limits {
            max_entries: 2,
            ..OPEN
        };
        assert!(parse("1.1.1.1\n2.2.2.2\n3.3.3.3\n", FeedFormat::Plain, small).is_err());
        assert!(parse("garbage\nmore garbage\n", FeedFormat::Plain, OPEN).is_err());
        // An empty list is a valid (empty) list.
        assert!(
            parse("# nothing today\n", FeedFormat::Plain, OPEN)
                .unwrap()
                .nets
                .is_empty()
        );
    }

    #[test]
    fn spamhaus_drop_json_lines_with_metadata() {
        let good = "{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n\
                    {\"cidr\":\"2001:db8::/32\",\"sblid\":\"SBL1\",\"rir\":\"ripencc\"}\n\
                    {\"type\":\"metadata\",\"timestamp\":1733300000,\"size\":120,\"records\":2,\"copyright\":\"x\"}\n";
        let p = parse(good, FeedFormat::SpamhausDrop, OPEN).unwrap();
        assert_eq!(p.nets.len(), 2);
        // Cut before the metadata line, or a record lost: truncated.
        let cut = &good[..good.rfind("{\"type\"").unwrap()];
        assert!(
            parse(cut, FeedFormat::SpamhausDrop, OPEN)
                .unwrap_err()
                .contains("truncated")
        );
        let lost = good.replacen(
            "{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n",
            "",
            1,
        );
        assert!(
            parse(&lost, FeedFormat::SpamhausDrop, OPEN)
                .unwrap_err()
                .contains("truncated")
        );
        // A garbage line is counted, not fatal (the count still matches).
        let noisy = format!("{{not json\n{good}");
        assert_eq!(
            parse(&noisy, FeedFormat::SpamhausDrop, OPEN)
                .unwrap()
                .invalid,
            1
        );
    }
}
