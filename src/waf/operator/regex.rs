//! `@rx`: a regular expression on raw bytes with ModSecurity's PCRE flags (`.` matches
//! newline, `^`/`$` also match at line ends), bytes not UTF-8 (`\w`, `\d`, `.` are ASCII/byte classes), linear-time matching.

use super::{Captures, Operator, prefilter};
use regex::bytes::{Regex, RegexBuilder};

/// The regex crate's compiled-program budget; the largest CRS expressions need more than the default.
const SIZE_LIMIT: usize = 64 << 20;

#[derive(Debug)]
pub struct Rx {
    /// `None` only for a parameter with macros that is not a valid regex before expansion.
    regex: Option<Regex>,
    literals: Option<Vec<Vec<u8>>>,
}

impl Rx {
    pub fn compile(pattern: &str) -> Result<Self, String> {
        if pattern.contains("%{") {
            // Macros are expanded per evaluation; the raw text need not be a valid regex.
            return Ok(Self {
                regex: build(pattern).ok(),
                literals: None,
            });
        }
        let regex = build(pattern)?;
        Ok(Self {
            regex: Some(regex),
            literals: prefilter::regex_literals(pattern),
        })
    }
}

/// Bytes semantics first (as PCRE without UTF mode); a pattern that needs Unicode classes
/// (e.g. a non-ASCII character inside `[...]`) falls back to Unicode mode.
fn build(pattern: &str) -> Result<Regex, String> {
    let builder = |unicode: bool| {
        RegexBuilder::new(pattern)
            .dot_matches_new_line(true)
            .multi_line(true)
            .unicode(unicode)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
    };
    builder(false)
        .or_else(|_| builder(true))
        .map_err(|e| format!("@rx {pattern:?}: {e}"))
}

impl Operator for Rx {
    fn evaluate(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        captures: Option<&mut Captures>,
    ) -> bool {
        // A parameter with macros is compiled per evaluation; the CRS has none, so this stays cold.
        let dynamic;
        let regex = match expanded {
            Some(pattern) => match build(pattern) {
                Ok(regex) => {
                    dynamic = regex;
                    &dynamic
                }
                Err(_) => return false,
            },
            None => match &self.regex {
                Some(regex) => regex,
                None => return false,
            },
        };
        let Some(captures) = captures else {
            return regex.is_match(input);
        };
        let Some(found) = regex.captures(input) else {
            return false;
        };
        for (slot, group) in captures.iter_mut().zip(found.iter()) {
            *slot = group.map(|m| m.as_bytes().to_vec());
        }
        true
    }

    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        self.literals.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bytes_with_dotall() {
        let rx = Rx::compile("(?i)a.b").unwrap();
        assert!(rx.evaluate(b"xA\nB", None, None));
        assert!(rx.evaluate(b"a\xffb", None, None));
        assert!(!rx.evaluate(b"ab", None, None));
        // \w is ASCII only, as in PCRE without UCP
        assert!(
            !Rx::compile(r"^\w$")
                .unwrap()
                .evaluate("é".as_bytes(), None, None)
        );
    }

    #[test]
    fn anchors_match_at_line_ends_like_pcre_multiline() {
        let rx = Rx::compile("^select$").unwrap();
        assert!(rx.evaluate(b"x\nselect\ny", None, None));
        assert!(!rx.evaluate(b"xselect", None, None));
    }

    #[test]
    fn fills_captures() {
        let rx = Rx::compile(r"(\d+)-(\d+)").unwrap();
        let mut captures: Captures = Default::default();
        assert!(rx.evaluate(b"id 12-34", None, Some(&mut captures)));
        assert_eq!(captures[0].as_deref(), Some(&b"12-34"[..]));
        assert_eq!(captures[1].as_deref(), Some(&b"12"[..]));
        assert_eq!(captures[2].as_deref(), Some(&b"34"[..]));
        assert_eq!(captures[3], None);
    }

    #[test]
    fn unicode_fallback_and_errors() {
        assert!(
            Rx::compile("[é]")
                .unwrap()
                .evaluate("café".as_bytes(), None, None)
        );
        let err = Rx::compile("(unclosed").unwrap_err();
        assert!(err.contains("(unclosed"), "{err}");
    }

    #[test]
    fn expanded_pattern_is_used() {
        let rx = Rx::compile("^%{tx.x}$").unwrap();
        assert!(rx.evaluate(b"abc", Some("^abc$"), None));
        assert!(!rx.evaluate(b"abc", Some("("), None));
    }
}

#[cfg(test)]
mod crs_tests {
    use super::*;

    /// Every `@rx` parameter in the CRS rule files (continuation lines joined, `\"` unescaped).
    fn crs_patterns() -> Vec<String> {
        let rules = crate::waf::operator::tests_support::crs_rules_dir();
        let quoted = Regex::new(r#""!?@rx ((?:[^"\\]|\\.)*)""#).unwrap();
        let mut patterns = Vec::new();
        for entry in std::fs::read_dir(rules).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "conf") {
                let text = std::fs::read_to_string(&path).unwrap().replace("\\\n", "");
                for found in quoted.captures_iter(text.as_bytes()) {
                    let raw = String::from_utf8(found[1].to_vec()).unwrap();
                    patterns.push(raw.replace("\\\"", "\""));
                }
            }
        }
        patterns
    }

    #[test]
    fn every_crs_regex_compiles() {
        let patterns = crs_patterns();
        assert!(patterns.len() > 300, "found {} @rx", patterns.len());
        let mut with_literals = 0;
        for pattern in &patterns {
            let rx = Rx::compile(pattern).unwrap_or_else(|e| panic!("{e}"));
            with_literals += usize::from(rx.required_literals().is_some());
        }
        assert!(with_literals > 0);
        eprintln!(
            "{} CRS @rx, {with_literals} with prefilter literals",
            patterns.len()
        );
    }
}
