//! `@validateByteRange`, `@validateUrlEncoding`, `@validateUtf8Encoding`: they *match*
//! (report a violation) when the input breaks the rule.

use super::{Captures, Operator};

/// Matches when a byte falls outside every listed range (`"9,10,13,32-126"`).
#[derive(Debug)]
pub struct ByteRange {
    allowed: [bool; 256],
}

impl ByteRange {
    pub fn parse(param: &str) -> Result<Self, String> {
        let mut allowed = [false; 256];
        let bad = |part: &str| {
            format!("@validateByteRange: {part:?} is not a byte or a range of bytes (0-255)")
        };
        for part in param.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (low, high) = match part.split_once('-') {
                Some((low, high)) => (low.trim(), high.trim()),
                None => (part, part),
            };
            let low: u8 = low.parse().map_err(|_| bad(part))?;
            let high: u8 = high.parse().map_err(|_| bad(part))?;
            if low > high {
                return Err(bad(part));
            }
            for byte in low..=high {
                allowed[usize::from(byte)] = true;
            }
        }
        if !allowed.contains(&true) {
            return Err("@validateByteRange: no range given".to_owned());
        }
        Ok(Self { allowed })
    }
}

impl Operator for ByteRange {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        input.iter().any(|b| !self.allowed[usize::from(*b)])
    }
}

/// Matches when a `%` is not followed by two hex digits.
#[derive(Debug)]
pub struct UrlEncoding;

impl Operator for UrlEncoding {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        input.iter().enumerate().any(|(i, b)| {
            *b == b'%'
                && !(input
                    .get(i + 1..i + 3)
                    .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit)))
        })
    }
}

/// Matches on invalid UTF-8: truncated or invalid sequences, overlong forms, surrogates,
/// code points above U+10FFFF (exactly what `std::str::from_utf8` rejects).
#[derive(Debug)]
pub struct Utf8Encoding;

impl Operator for Utf8Encoding {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        std::str::from_utf8(input).is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        let op = ByteRange::parse("20, 45-47,48-57,65-90,95,97-122").unwrap();
        assert!(!op.evaluate(b"abc-XYZ_09", None, None));
        assert!(op.evaluate(b"a b", None, None));
        assert!(op.evaluate(b"\x00", None, None));
        assert!(
            ByteRange::parse("1-255")
                .unwrap()
                .evaluate(b"\x00", None, None)
        );
        for bad in ["256", "a-b", "9-3", "", "1-2-3"] {
            assert!(ByteRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_encoding() {
        assert!(!UrlEncoding.evaluate(b"a%20b%7E", None, None));
        assert!(UrlEncoding.evaluate(b"a%2", None, None));
        assert!(UrlEncoding.evaluate(b"%zz", None, None));
        assert!(UrlEncoding.evaluate(b"100%", None, None));
    }

    #[test]
    fn utf8_encoding() {
        assert!(!Utf8Encoding.evaluate("héllo ✓".as_bytes(), None, None));
        assert!(Utf8Encoding.evaluate(b"\xc0\xaf", None, None)); // overlong '/'
        assert!(Utf8Encoding.evaluate(b"\xed\xa0\x80", None, None)); // surrogate
        assert!(Utf8Encoding.evaluate(b"\xe2\x82", None, None)); // truncated
        assert!(Utf8Encoding.evaluate(b"\xf4\x90\x80\x80", None, None)); // > U+10FFFF
    }
}
