//! Route matcher (path): exact, segment-aware prefix, and anchored regex
//! conditions on the normalised request path.

use regex::{Regex, RegexBuilder};

use crate::config::spec::PathMatchSpec;

/// Compiled regexes are capped so a hostile or careless pattern cannot make
/// the gateway build a huge automaton.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled path condition. The `bool` of `Exact` and `Prefix` is
/// `case_insensitive` (ASCII letters only; escapes are upper-case hex after
/// normalisation, so they compare equal either way).
#[derive(Debug, Clone)]
pub enum PathMatcher {
    Exact(String, bool),
    Prefix(String, bool),
    /// The anchored regex and the length of the pattern as written, which
    /// ranks regex routes (longer pattern first).
    Regex(Regex, usize),
}

/// A build error: the field (relative to `path`) and the reason.
pub type PathError = (&'static str, String);

impl PathMatcher {
    /// Exactly one of `exact`, `prefix`, `regex` must be set.
    pub fn compile(spec: &PathMatchSpec) -> Result<Self, PathError> {
        let nocase = spec.case_insensitive;
        match (&spec.exact, &spec.prefix, &spec.regex) {
            (Some(exact), None, None) => {
                check_absolute(exact).map_err(|m| ("path.exact", m))?;
                Ok(Self::Exact(exact.clone(), nocase))
            }
            (None, Some(prefix), None) => {
                check_absolute(prefix).map_err(|m| ("path.prefix", m))?;
                Ok(Self::Prefix(prefix.clone(), nocase))
            }
            (None, None, Some(pattern)) => compile_anchored_case(pattern, nocase)
                .map(|re| Self::Regex(re, pattern.len()))
                .map_err(|m| ("path.regex", m)),
            (None, None, None) => Err(("path", "set one of exact, prefix, regex".to_owned())),
            _ => Err(("path", "set only one of exact, prefix, regex".to_owned())),
        }
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact, false) => path == exact,
            Self::Exact(exact, true) => path.eq_ignore_ascii_case(exact),
            Self::Prefix(prefix, nocase) => prefix_matches(prefix, path, *nocase),
            Self::Regex(re, _) => re.is_match(path),
        }
    }
}

/// Normalised request paths always start with `/`, so a condition that does
/// not could never match; that is a configuration mistake worth reporting.
fn check_absolute(path: &str) -> Result<(), String> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{path:?} must start with '/'"))
    }
}

/// Compiles `pattern` so it must match the whole input: `^(?:pattern)$`. The
/// group keeps an alternation like `a|b` from escaping the anchors.
pub fn compile_anchored(pattern: &str) -> Result<Regex, String> {
    compile_anchored_case(pattern, false)
}

fn compile_anchored_case(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    RegexBuilder::new(&anchor(pattern)?)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex: {e}"))
}

/// `^(?:pattern)$`, after checking that `pattern` compiles on its own: a
/// pattern such as `a)|(b` would otherwise close the group early and leave
/// one branch unanchored. A valid pattern has balanced groups, so wrapping
/// it cannot change its meaning.
pub fn anchor(pattern: &str) -> Result<String, String> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex: {e}"))?;
    Ok(format!("^(?:{pattern})$"))
}

/// Prefixes match whole segments: `/api` matches `/api` and `/api/x` but not
/// `/apix`. A prefix ending in `/` already marks the boundary itself, so it
/// matches anything starting with it (`/api/` matches `/api/x`, not `/api`).
fn prefix_matches(prefix: &str, path: &str, case_insensitive: bool) -> bool {
    if prefix == "/" {
        return true;
    }
    let rest = if case_insensitive {
        // Byte slicing is safe: equal ASCII-case-folded bytes end on the
        // same character boundary as `prefix`.
        match path.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => &path[prefix.len()..],
            _ => return false,
        }
    } else {
        match path.strip_prefix(prefix) {
            Some(rest) => rest,
            None => return false,
        }
    };
    prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exact: Option<&str>, prefix: Option<&str>, regex: Option<&str>) -> PathMatchSpec {
        PathMatchSpec {
            exact: exact.map(str::to_owned),
            prefix: prefix.map(str::to_owned),
            regex: regex.map(str::to_owned),
            case_insensitive: false,
        }
    }

    #[test]
    fn case_insensitive_matches_every_ascii_case() {
        let nocase = |exact: Option<&str>, prefix: Option<&str>, regex: Option<&str>| {
            let mut s = spec(exact, prefix, regex);
            s.case_insensitive = true;
            PathMatcher::compile(&s).unwrap()
        };
        let p = nocase(None, Some("/admin"), None);
        for path in ["/admin", "/ADMIN", "/Admin/x", "/aDmIn"] {
            assert!(p.matches(path), "{path}");
        }
        assert!(!p.matches("/adminx"));
        assert!(!p.matches("/é"));
        assert!(!prefix("/admin").matches("/ADMIN"));
        let e = nocase(Some("/Login"), None, None);
        assert!(e.matches("/LOGIN") && e.matches("/login"));
        let r = nocase(None, None, Some("/adm[a-z]n/.*"));
        assert!(r.matches("/ADMIN/x"));
    }

    fn prefix(p: &str) -> PathMatcher {
        PathMatcher::compile(&spec(None, Some(p), None)).unwrap()
    }

    fn regex(p: &str) -> PathMatcher {
        PathMatcher::compile(&spec(None, None, Some(p))).unwrap()
    }

    #[test]
    fn exact_is_byte_equality() {
        let m = PathMatcher::compile(&spec(Some("/login"), None, None)).unwrap();
        assert!(m.matches("/login"));
        assert!(!m.matches("/login/"));
        assert!(!m.matches("/Login"));
        assert!(!m.matches("/logins"));
    }

    #[test]
    fn prefix_respects_segment_boundaries() {
        let m = prefix("/api");
        assert!(m.matches("/api"));
        assert!(m.matches("/api/"));
        assert!(m.matches("/api/x/y"));
        assert!(!m.matches("/apix"));
        assert!(!m.matches("/ap"));
        assert!(!m.matches("/"));
    }

    #[test]
    fn prefix_with_trailing_slash_needs_the_slash() {
        let m = prefix("/api/");
        assert!(m.matches("/api/"));
        assert!(m.matches("/api/x"));
        assert!(!m.matches("/api"));
        assert!(!m.matches("/apix"));
    }

    #[test]
    fn root_prefix_matches_everything() {
        let m = prefix("/");
        for path in ["/", "/a", "/a/b/", "", "*"] {
            assert!(m.matches(path), "{path:?}");
        }
    }

    #[test]
    fn regex_is_anchored() {
        let m = regex("/users/[0-9]+");
        assert!(m.matches("/users/42"));
        assert!(!m.matches("/users/42/edit"));
        assert!(!m.matches("/x/users/42"));
        // The group keeps the alternation inside the anchors.
        let alt = regex("/a|/b");
        assert!(alt.matches("/a"));
        assert!(!alt.matches("/a/c"));
        assert!(!alt.matches("/x/b"));
    }

    #[test]
    fn regex_cannot_break_out_of_the_anchors() {
        let compile = |p: &str| PathMatcher::compile(&spec(None, None, Some(p)));
        assert!(compile("/a)|(/b").is_err());
        assert!(compile("/a)|(?:.*").is_err());
        // In verbose mode a comment would swallow the closing anchor: refused.
        assert!(compile("(?x)/a # note").is_err());
    }

    #[test]
    fn compile_errors_name_the_field() {
        let err = |s: PathMatchSpec| PathMatcher::compile(&s).err().map(|e| e.0);
        assert_eq!(err(spec(None, None, None)), Some("path"));
        assert_eq!(err(spec(Some("/a"), Some("/b"), None)), Some("path"));
        assert_eq!(err(spec(None, None, Some("(unclosed"))), Some("path.regex"));
        assert_eq!(err(spec(None, Some("api"), None)), Some("path.prefix"));
        assert_eq!(err(spec(Some(""), None, None)), Some("path.exact"));
        // A pattern that would compile to more than the size limit.
        assert_eq!(
            err(spec(None, None, Some(r"\w{1000}{1000}"))),
            Some("path.regex")
        );
    }
}
