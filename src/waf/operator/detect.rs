//! `@detectSQLi` and `@detectXSS`: libinjection's tokenizer/fingerprint (SQLi) and HTML5
//! tokenizer (XSS) semantics, via the pure-Rust `libinjectionrs` port. With `capture`,
//! `@detectSQLi` puts the fingerprint in TX.0, as ModSecurity does.

use super::{Captures, Operator};

#[derive(Debug)]
pub struct DetectSqli;

impl Operator for DetectSqli {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        captures: Option<&mut Captures>,
    ) -> bool {
        let result = libinjectionrs::detect_sqli(input);
        if !result.is_injection() {
            return false;
        }
        if let (Some(captures), Some(fingerprint)) = (captures, result.fingerprint.as_ref()) {
            captures[0] = Some(fingerprint.as_str().as_bytes().to_vec());
        }
        true
    }
}

#[derive(Debug)]
pub struct DetectXss;

impl Operator for DetectXss {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        libinjectionrs::detect_xss(input).is_injection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqli_with_fingerprint() {
        let mut captures: Captures = Default::default();
        assert!(DetectSqli.evaluate(b"1' OR '1'='1", None, Some(&mut captures)));
        assert_eq!(captures[0].as_deref(), Some(&b"s&sos"[..]));
        assert!(DetectSqli.evaluate(b"1 UNION SELECT password FROM users", None, None));
        assert!(!DetectSqli.evaluate(b"hello world", None, None));
        assert!(!DetectSqli.evaluate(b"", None, None));
    }

    #[test]
    fn xss() {
        assert!(DetectXss.evaluate(b"<script>alert(1)</script>", None, None));
        assert!(DetectXss.evaluate(b"<img src=x onerror=alert(1)>", None, None));
        assert!(DetectXss.evaluate(b"\"><svg/onload=alert(1)>", None, None));
        assert!(!DetectXss.evaluate(b"hello <b>world</b>", None, None));
        assert!(!DetectXss.evaluate(b"", None, None));
    }
}
