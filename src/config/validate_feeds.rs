//! Semantic validation of `feeds` and `threat_feed` policies (field paths
//! resolve to file:line:col in the loader).

use std::collections::HashSet;
use std::time::Duration;

use crate::config::spec_feeds::{FeedSpec, ThreatFeedPolicySpec};
use crate::config::validate::Issues;

/// The largest list accepted (about 100 MB of trie at ~100 B a prefix).
pub const MAX_ENTRIES: usize = 5_000_000;

pub(crate) fn check(out: &mut Issues, feeds: &[FeedSpec]) {
    let mut names = HashSet::new();
    for (i, f) in feeds.iter().enumerate() {
        let base = format!("feeds[{i}]");
        if f.name.is_empty() {
            out.push(format!("{base}.name"), "must not be empty");
        } else if !names.insert(f.name.as_str()) {
            out.push(
                format!("{base}.name"),
                format!("duplicate feed {:?}", f.name),
            );
        }
        let sources = [f.file.is_some(), f.url.is_some(), f.crowdsec.is_some()];
        match sources.iter().filter(|s| **s).count() {
            0 => out.push(&base, "one of file, url or crowdsec is required"),
            1 => {}
            _ => out.push(&base, "set only one of file, url and crowdsec"),
        }
        if let Some(cs) = &f.crowdsec {
            match url::Url::parse(&cs.lapi_url) {
                Ok(u) if !matches!(u.scheme(), "http" | "https") => out.push(
                    format!("{base}.crowdsec.lapi_url"),
                    "scheme must be http:// or https://",
                ),
                Ok(_) => {}
                Err(e) => out.push(
                    format!("{base}.crowdsec.lapi_url"),
                    format!("invalid URL: {e}"),
                ),
            }
            if let Err(e) = std::fs::metadata(&cs.api_key_file) {
                out.push(
                    format!("{base}.crowdsec.api_key_file"),
                    format!("cannot read {:?}: {e}", cs.api_key_file),
                );
            }
        }
        if let Some(url) = &f.url {
            match url::Url::parse(url) {
                Ok(u) if u.scheme() != "https" => {
                    out.push(format!("{base}.url"), "only https:// URLs are fetched")
                }
                Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                    out.push(format!("{base}.url"), "a host is required")
                }
                Ok(_) => {}
                Err(e) => out.push(format!("{base}.url"), format!("invalid URL: {e}")),
            }
        }
        if let Some(ca) = &f.ca_file {
            if f.url.is_none() && f.crowdsec.is_none() {
                out.push(format!("{base}.ca_file"), "ca_file needs a url or crowdsec");
            } else if let Err(e) = std::fs::metadata(ca) {
                out.push(
                    format!("{base}.ca_file"),
                    format!("cannot read {ca:?}: {e}"),
                );
            }
        }
        if f.refresh < Duration::from_secs(1) || f.refresh > Duration::from_secs(7 * 86_400) {
            out.push(format!("{base}.refresh"), "must be between 1s and 7d");
        }
        if f.max_entries == 0 || f.max_entries > MAX_ENTRIES {
            out.push(
                format!("{base}.max_entries"),
                format!("must be between 1 and {MAX_ENTRIES}"),
            );
        }
        if f.max_bytes < 1024 || f.max_bytes > 1 << 30 {
            out.push(
                format!("{base}.max_bytes"),
                "must be between 1024 and 1073741824",
            );
        }
    }
}

pub(crate) fn check_policy(
    out: &mut Issues,
    base: &str,
    p: &ThreatFeedPolicySpec,
    feeds: &[FeedSpec],
) {
    if p.feeds.is_empty() {
        out.push(format!("{base}.feeds"), "at least one feed is required");
    }
    for (i, name) in p.feeds.iter().enumerate() {
        if !feeds.iter().any(|f| f.name == *name) {
            out.push(
                format!("{base}.feeds[{i}]"),
                format!("unknown feed {name:?}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_str;

    fn errors(yaml: &str) -> String {
        match load_str(yaml, "t.yaml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_field_has_a_wrong_value_test() {
        let cases = [
            ("name: ''\n    file: /x", "feeds[0].name: must not be empty"),
            (
                "name: a\n    file: /x\n    url: https://h/x",
                "set only one of file, url and crowdsec",
            ),
            ("name: a", "one of file, url or crowdsec is required"),
            (
                "name: a\n    crowdsec: { lapi_url: 'ftp://h/', api_key_file: /etc/hostname }",
                "feeds[0].crowdsec.lapi_url: scheme",
            ),
            (
                "name: a\n    crowdsec: { lapi_url: 'http://h/', api_key_file: /nope }",
                "feeds[0].crowdsec.api_key_file: cannot read",
            ),
            (
                "name: a\n    crowdsec: { lapi_url: 'http://h/' }",
                "feeds[0].crowdsec: missing field",
            ),
            (
                "name: a\n    url: http://h/x",
                "feeds[0].url: only https://",
            ),
            ("name: a\n    url: 'https://'", "feeds[0].url"),
            (
                "name: a\n    file: /x\n    ca_file: /etc/hostname",
                "ca_file needs a url",
            ),
            (
                "name: a\n    url: https://h/x\n    ca_file: /nope",
                "feeds[0].ca_file: cannot read",
            ),
            ("name: a\n    file: /x\n    refresh: 0s", "feeds[0].refresh"),
            (
                "name: a\n    file: /x\n    max_entries: 0",
                "feeds[0].max_entries",
            ),
            (
                "name: a\n    file: /x\n    max_bytes: 10",
                "feeds[0].max_bytes",
            ),
            ("name: a\n    file: /x\n    format: csv", "feeds[0].format"),
        ];
        for (feed, expected) in cases {
            let yaml = format!("feeds:\n  - {feed}\n");
            let got = errors(&yaml);
            assert!(
                got.contains(expected),
                "{feed}: expected {expected:?} in {got}"
            );
        }
        let dup = "feeds:\n  - { name: a, file: /x }\n  - { name: a, file: /y }\n";
        assert!(
            errors(dup).contains("t.yaml:3:13 feeds[1].name: duplicate feed"),
            "{}",
            errors(dup)
        );
    }

    #[test]
    fn a_policy_names_known_feeds() {
        let yaml = "feeds:\n  - { name: a, file: /x }\npolicies:\n  - name: p\n    threat_feed: { feeds: [a, b] }\n  - name: q\n    threat_feed: { feeds: [], action: tag }\n";
        let got = errors(yaml);
        assert!(
            got.contains("t.yaml:5:31 policies[0].threat_feed.feeds[1]: unknown feed \"b\""),
            "{got}"
        );
        assert!(
            got.contains("policies[1].threat_feed.feeds: at least one feed"),
            "{got}"
        );
        let bad = "policies:\n  - name: r\n    threat_feed: { feeds: [a], action: ban }\n";
        assert!(
            errors(bad).contains("policies[0].threat_feed.action: unknown variant"),
            "{}",
            errors(bad)
        );
    }
}
