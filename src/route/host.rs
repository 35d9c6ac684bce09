//! Route matcher (host): exact and `*.suffix` host patterns, plus the
//! normalisation of the request's host before it is looked up.

use std::borrow::Cow;

/// A compiled host condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// A full name, lower-case, without a trailing dot.
    Exact(String),
    /// `*.example.com` stored as `.example.com`: the request host must end
    /// with it and have at least one more character before it, so the bare
    /// `example.com` never matches.
    Wildcard(String),
}

impl HostPattern {
    /// Parses a configured host. Names are compared case-insensitively and a
    /// trailing dot is ignored, so both are folded here once rather than per
    /// request.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lower = raw.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        if let Some(suffix) = name.strip_prefix("*.") {
            validate_name(suffix)?;
            return Ok(Self::Wildcard(format!(".{suffix}")));
        }
        if is_ipv6_literal(name) {
            return Ok(Self::Exact(name.to_owned()));
        }
        validate_name(name)?;
        Ok(Self::Exact(name.to_owned()))
    }

    /// Whether `host` (already normalised, see [`normalize`]) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => host == name,
            Self::Wildcard(suffix) => wildcard_matches(suffix, host),
        }
    }
}

/// `suffix` starts with a dot; at least one byte must precede it.
pub fn wildcard_matches(suffix: &str, host: &str) -> bool {
    host.len() > suffix.len() && host.ends_with(suffix)
}

/// DNS names only (RFC 1123 labels); IDNs must be written in punycode. A `*`
/// anywhere but the leading label is rejected rather than treated literally,
/// because it almost certainly means a mistaken pattern.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty host name".to_owned());
    }
    if name.len() > 253 {
        return Err("host name longer than 253 bytes".to_owned());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("empty label in host {name:?}"));
        }
        if label.len() > 63 {
            return Err(format!("label longer than 63 bytes in host {name:?}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label starts or ends with '-' in host {name:?}"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "invalid character {c:?} in host {name:?} (only `*.` may lead a wildcard; no ports)"
            ));
        }
    }
    Ok(())
}

/// `[::1]`-style literals, as they appear in a Host header.
fn is_ipv6_literal(name: &str) -> bool {
    name.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .is_some_and(|inner| inner.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Scratch space for [`normalize`]: the longest host (253) plus a port and a
/// dot, with room to spare. Living on the caller's stack, it lets a host that
/// needs lower-casing be rewritten without a heap allocation.
pub const HOST_BUF_LEN: usize = 272;
pub type HostBuf = [u8; HOST_BUF_LEN];

/// Lower-cases `host` and strips a `:port` and a trailing dot. The caller
/// normally did this already, so the common case only scans the bytes and
/// borrows `host`; otherwise the result is written to `buf`, or to the heap
/// for an absurdly long host.
pub fn normalize<'a>(host: &'a str, buf: &'a mut HostBuf) -> Cow<'a, str> {
    let trimmed = strip_port(host);
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if !trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(trimmed);
    }
    let Some(out) = buf.get_mut(..trimmed.len()) else {
        return Cow::Owned(trimmed.to_ascii_lowercase());
    };
    out.copy_from_slice(trimmed.as_bytes());
    out.make_ascii_lowercase();
    // Only ASCII bytes of a valid `str` changed, so this cannot fail; an empty
    // host would simply match no named route.
    Cow::Borrowed(std::str::from_utf8(out).unwrap_or(""))
}

/// `name:port` → `name`, `[v6]:port` → `[v6]`. A bare IPv6 address (several
/// colons, no brackets) is left alone: it has no port to strip.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> HostPattern {
        HostPattern::Exact(s.to_owned())
    }

    #[test]
    fn parse_folds_case_and_trailing_dot() {
        assert_eq!(
            HostPattern::parse("API.Example.COM."),
            Ok(exact("api.example.com"))
        );
        assert_eq!(
            HostPattern::parse("*.Example.com"),
            Ok(HostPattern::Wildcard(".example.com".to_owned()))
        );
        assert_eq!(HostPattern::parse("[::1]"), Ok(exact("[::1]")));
        assert_eq!(HostPattern::parse("10.0.0.1"), Ok(exact("10.0.0.1")));
    }

    #[test]
    fn parse_rejects_bad_patterns() {
        for bad in [
            "",
            "*",
            "*.",
            "a.*.com",
            "example.com:8080",
            "ex ample.com",
            "a..b",
            "-a.com",
            "a-.com",
            "héllo.com",
            "*example.com",
            "**.example.com",
            "[::1",
        ] {
            assert!(
                HostPattern::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(HostPattern::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn exact_matches_only_the_name() {
        let p = exact("example.com");
        assert!(p.matches("example.com"));
        assert!(!p.matches("a.example.com"));
        assert!(!p.matches("example.co"));
    }

    #[test]
    fn wildcard_needs_at_least_one_label() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches(".example.com"));
        assert!(!p.matches("aexample.com"));
        assert!(!p.matches("a.example.com.evil"));
    }

    #[test]
    fn normalize_handles_case_port_and_dot() {
        let norm = |host: &str| normalize(host, &mut [0; HOST_BUF_LEN]).into_owned();
        assert_eq!(norm("example.com"), "example.com");
        assert_eq!(norm("Example.COM:8443"), "example.com");
        assert_eq!(norm("example.com.:80"), "example.com");
        assert_eq!(norm("[::1]:8080"), "[::1]");
        assert_eq!(norm("::1"), "::1");
        assert_eq!(norm(""), "");
        assert_eq!(norm(&"A".repeat(400)), "a".repeat(400));
        // The common case borrows; a short rewrite stays on the stack.
        let mut buf = [0; HOST_BUF_LEN];
        assert!(matches!(normalize("a.test", &mut buf), Cow::Borrowed(_)));
        assert!(matches!(
            normalize("A.test:1", &mut buf),
            Cow::Borrowed("a.test")
        ));
    }
}
