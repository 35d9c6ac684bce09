//! `application/x-www-form-urlencoded` bodies and query strings (`ARGS_POST`, `ARGS_GET`).
//!
//! Pairs split on the separator (empty pairs skipped), name and value on the first `=`
//! (a pair without one is a name with an empty value), both `urlDecode`d non-strictly.

use super::{BodyLimits, ParsedBody};
use crate::waf::transform::url_decode::decode_counting_invalid;

/// Parses `body` (or a query string) into arguments. Also used for `QUERY_STRING` → `ARGS_GET`.
pub fn urlencoded(body: &[u8], separator: u8, limits: &BodyLimits) -> ParsedBody {
    let mut parsed = ParsedBody::default();
    for pair in body
        .split(|b| *b == separator)
        .filter(|pair| !pair.is_empty())
    {
        let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let (name, invalid_in_name) = decode_counting_invalid(raw_name);
        let (value, invalid_in_value) = decode_counting_invalid(raw_value);
        parsed.urlencoded_error |= invalid_in_name + invalid_in_value > 0;
        if !parsed.push_arg(name, value, limits) {
            break;
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(body: &[u8]) -> Vec<(String, String)> {
        urlencoded(body, b'&', &BodyLimits::default())
            .args
            .into_iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn splits_and_decodes() {
        let pairs = args(b"a=1&b=x+y%21&&c&=v&d=e=f&a=2");
        let expected = [
            ("a", "1"),
            ("b", "x y!"),
            ("c", ""),
            ("", "v"),
            ("d", "e=f"),
            ("a", "2"),
        ];
        assert_eq!(pairs.len(), expected.len());
        for ((name, value), (want_name, want_value)) in pairs.iter().zip(expected) {
            assert_eq!((name.as_str(), value.as_str()), (want_name, want_value));
        }
    }

    #[test]
    fn flags_invalid_encoding_but_keeps_it() {
        let parsed = urlencoded(b"q=%zz1&r=%41", b'&', &BodyLimits::default());
        assert!(parsed.urlencoded_error);
        assert_eq!(parsed.args[0].1, b"%zz1");
        assert_eq!(parsed.args[1].1, b"A");
        assert!(parsed.error.is_none());
        assert!(!urlencoded(b"q=%41", b'&', &BodyLimits::default()).urlencoded_error);
    }

    #[test]
    fn other_separator_and_empty_input() {
        let parsed = urlencoded(b"a=1;b=2&c", b';', &BodyLimits::default());
        assert_eq!(parsed.args.len(), 2);
        assert_eq!(parsed.args[1], (b"b".to_vec(), b"2&c".to_vec()));
        assert!(
            urlencoded(b"", b'&', &BodyLimits::default())
                .args
                .is_empty()
        );
    }

    #[test]
    fn stops_at_the_argument_limit() {
        let limits = BodyLimits {
            max_args: 2,
            ..BodyLimits::default()
        };
        let parsed = urlencoded(b"a=1&b=2&c=3", b'&', &limits);
        assert_eq!(parsed.args.len(), 2);
        assert!(
            parsed
                .error
                .as_deref()
                .unwrap_or("")
                .contains("too many arguments")
        );
    }
}
