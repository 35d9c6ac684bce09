//! Route matcher (value): header and query-parameter conditions, including
//! the allocation-free query-string scanner they need.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};
use regex::bytes::{Regex, RegexBuilder};

use crate::config::spec::ValueMatchSpec;
use crate::route::path::{REGEX_SIZE_LIMIT, anchor};

/// A build error: the field relative to the condition (`""`, `.name`,
/// `.regex`) and the reason.
pub type ValueError = (&'static str, String);

/// What the value must satisfy. Values are bytes: header values need not be
/// UTF-8, and neither must a percent-decoded query value.
#[derive(Debug, Clone)]
pub enum ValueCondition {
    Exact(Vec<u8>),
    /// Anchored: must match the whole value.
    Regex(Regex),
    Present,
}

impl ValueCondition {
    /// Exactly one of `exact`, `regex`, `present: true`. `present: false` is
    /// refused rather than read as "absent": it is not a supported condition
    /// and silently ignoring it would widen the route.
    fn compile(spec: &ValueMatchSpec) -> Result<Self, ValueError> {
        match (&spec.exact, &spec.regex, spec.present) {
            (Some(exact), None, None) => Ok(Self::Exact(exact.as_bytes().to_vec())),
            (None, Some(pattern), None) => anchor(pattern)
                .and_then(|anchored| {
                    RegexBuilder::new(&anchored)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| format!("invalid regex: {e}"))
                })
                .map(Self::Regex)
                .map_err(|m| (".regex", m)),
            (None, None, Some(true)) => Ok(Self::Present),
            (None, None, Some(false)) => Err((
                ".present",
                "only `present: true` is supported; remove the condition instead".to_owned(),
            )),
            (None, None, None) => Err(("", "set one of exact, regex, present".to_owned())),
            _ => Err(("", "set only one of exact, regex, present".to_owned())),
        }
    }

    fn matches(&self, value: &[u8]) -> bool {
        match self {
            Self::Exact(exact) => value == exact.as_slice(),
            Self::Regex(re) => re.is_match(value),
            Self::Present => true,
        }
    }
}

/// A header condition. Names are case-insensitive (`HeaderName` is
/// lower-case); if the header occurs several times, any occurrence may match.
#[derive(Debug, Clone)]
pub struct HeaderMatcher {
    name: HeaderName,
    condition: ValueCondition,
}

impl HeaderMatcher {
    /// Reports both a bad name and a bad condition, so one pass finds all.
    pub fn compile(spec: &ValueMatchSpec) -> Result<Self, Vec<ValueError>> {
        let name = HeaderName::from_bytes(spec.name.as_bytes())
            .map_err(|_| (".name", format!("invalid header name {:?}", spec.name)));
        let condition = ValueCondition::compile(spec);
        match (name, condition) {
            (Ok(name), Ok(condition)) => Ok(Self { name, condition }),
            (name, condition) => Err([name.err(), condition.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    pub fn matches(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(&self.name)
            .iter()
            .any(|value| self.condition.matches(value.as_bytes()))
    }
}

/// A query-parameter condition. The name is compared, case-sensitively, with
/// the percent-decoded parameter name; only the first occurrence of a name is
/// compared, so `a=1&a=2` has `a` equal to `1`.
#[derive(Debug, Clone)]
pub struct QueryMatcher {
    name: Vec<u8>,
    condition: ValueCondition,
}

impl QueryMatcher {
    pub fn compile(spec: &ValueMatchSpec) -> Result<Self, Vec<ValueError>> {
        let name = if spec.name.is_empty() {
            Err((".name", "empty query parameter name".to_owned()))
        } else {
            Ok(spec.name.as_bytes().to_vec())
        };
        match (name, ValueCondition::compile(spec)) {
            (Ok(name), Ok(condition)) => Ok(Self { name, condition }),
            (name, condition) => Err([name.err(), condition.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// Scans `query` lazily: nothing is parsed unless a route has a query
    /// condition, and nothing is allocated unless a regex must see a value
    /// that contains escapes.
    pub fn matches(&self, query: Option<&str>) -> bool {
        let Some(value) = query.and_then(|q| first_value(q, &self.name)) else {
            return false;
        };
        match &self.condition {
            ValueCondition::Present => true,
            ValueCondition::Exact(exact) => Decoded::new(value).eq(exact.iter().copied()),
            ValueCondition::Regex(re) => re.is_match(&decode(value)),
        }
    }
}

/// The raw (still encoded) value of the first parameter whose decoded name is
/// `name`. A parameter without `=` has an empty value.
fn first_value<'q>(query: &'q str, name: &[u8]) -> Option<&'q [u8]> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .as_bytes()
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .find_map(|pair| {
            let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            Decoded::new(raw_name)
                .eq(name.iter().copied())
                .then_some(raw_value)
        })
}

/// Decodes a whole value, borrowing when there is nothing to decode.
fn decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.iter().any(|&b| b == b'%' || b == b'+') {
        Cow::Owned(Decoded::new(raw).collect())
    } else {
        Cow::Borrowed(raw)
    }
}

/// Form-style decoding as an iterator: `+` is a space, `%XX` a byte. A `%`
/// not followed by two hex digits is kept literally, like browsers do.
struct Decoded<'a> {
    rest: &'a [u8],
}

impl<'a> Decoded<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Self { rest: raw }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        let (byte, consumed) = match (first, tail) {
            (b'+', _) => (b' ', 1),
            (b'%', [hi, lo, ..]) => match (hex(*hi), hex(*lo)) {
                (Some(hi), Some(lo)) => (hi << 4 | lo, 3),
                _ => (b'%', 1),
            },
            (other, _) => (other, 1),
        };
        self.rest = &self.rest[consumed..];
        Some(byte)
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn spec(
        name: &str,
        exact: Option<&str>,
        regex: Option<&str>,
        present: Option<bool>,
    ) -> ValueMatchSpec {
        ValueMatchSpec {
            name: name.to_owned(),
            exact: exact.map(str::to_owned),
            regex: regex.map(str::to_owned),
            present,
        }
    }

    fn query(
        name: &str,
        exact: Option<&str>,
        regex: Option<&str>,
        present: Option<bool>,
    ) -> QueryMatcher {
        QueryMatcher::compile(&spec(name, exact, regex, present)).unwrap()
    }

    #[test]
    fn decoding_handles_plus_percent_and_junk() {
        let d = |s: &str| decode(s.as_bytes()).into_owned();
        assert_eq!(d("a+b%20c"), b"a b c");
        assert_eq!(d("%2f%2F"), b"//");
        assert_eq!(d("100%"), b"100%");
        assert_eq!(d("%zz%4"), b"%zz%4");
        assert_eq!(d("%ff"), [0xff]);
        assert!(matches!(decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn header_exact_regex_present() {
        let mut headers = HeaderMap::new();
        headers.insert("x-env", HeaderValue::from_static("canary"));
        let exact = HeaderMatcher::compile(&spec("X-Env", Some("canary"), None, None)).unwrap();
        let wrong_case =
            HeaderMatcher::compile(&spec("x-env", Some("Canary"), None, None)).unwrap();
        let regex = HeaderMatcher::compile(&spec("x-env", None, Some("can.*"), None)).unwrap();
        let partial = HeaderMatcher::compile(&spec("x-env", None, Some("nar"), None)).unwrap();
        let present = HeaderMatcher::compile(&spec("x-env", None, None, Some(true))).unwrap();
        let absent = HeaderMatcher::compile(&spec("x-other", None, None, Some(true))).unwrap();
        assert!(exact.matches(&headers));
        assert!(!wrong_case.matches(&headers));
        assert!(regex.matches(&headers));
        assert!(!partial.matches(&headers));
        assert!(present.matches(&headers));
        assert!(!absent.matches(&headers));
    }

    #[test]
    fn header_any_occurrence_matches() {
        let mut headers = HeaderMap::new();
        headers.append("x-role", HeaderValue::from_static("user"));
        headers.append("x-role", HeaderValue::from_static("admin"));
        let admin = HeaderMatcher::compile(&spec("x-role", Some("admin"), None, None)).unwrap();
        let root = HeaderMatcher::compile(&spec("x-role", Some("root"), None, None)).unwrap();
        assert!(admin.matches(&headers));
        assert!(!root.matches(&headers));
    }

    #[test]
    fn header_values_may_be_opaque_bytes() {
        let mut headers = HeaderMap::new();
        headers.insert("x-bin", HeaderValue::from_bytes(b"a\xffb").unwrap());
        let any = HeaderMatcher::compile(&spec("x-bin", None, Some(r"(?-u)a.b"), None)).unwrap();
        assert!(any.matches(&headers));
    }

    #[test]
    fn query_first_occurrence_and_decoding() {
        let q = Some("a=1&a=2&na%6De=J%C3%B6rg+S&flag&empty=");
        assert!(query("a", Some("1"), None, None).matches(q));
        assert!(!query("a", Some("2"), None, None).matches(q));
        assert!(query("name", Some("Jörg S"), None, None).matches(q));
        assert!(query("name", None, Some("J.rg S"), None).matches(q));
        assert!(!query("name", None, Some("J"), None).matches(q));
        assert!(query("flag", None, None, Some(true)).matches(q));
        assert!(query("flag", Some(""), None, None).matches(q));
        assert!(query("empty", Some(""), None, None).matches(q));
        assert!(!query("missing", None, None, Some(true)).matches(q));
        assert!(!query("A", None, None, Some(true)).matches(q));
        assert!(!query("a", None, None, Some(true)).matches(None));
        assert!(query("a", Some("1"), None, None).matches(Some("?&&a=1")));
    }

    #[test]
    fn compile_errors_name_the_field() {
        let header = |s| HeaderMatcher::compile(&s).err().unwrap_or_default();
        let fields = |errs: Vec<ValueError>| errs.into_iter().map(|e| e.0).collect::<Vec<_>>();
        assert_eq!(
            fields(header(spec("bad name", None, None, Some(true)))),
            [".name"]
        );
        assert_eq!(fields(header(spec("x", None, Some("("), None))), [".regex"]);
        assert_eq!(
            fields(header(spec("x", None, Some("a)|(b"), None))),
            [".regex"]
        );
        assert_eq!(fields(header(spec("x", None, None, None))), [""]);
        assert_eq!(fields(header(spec("x", Some("a"), None, Some(true)))), [""]);
        assert_eq!(
            fields(header(spec("x", None, None, Some(false)))),
            [".present"]
        );
        assert_eq!(
            fields(header(spec("", None, Some("("), None))),
            [".name", ".regex"]
        );
        let q = QueryMatcher::compile(&spec("", Some("a"), None, None))
            .err()
            .unwrap_or_default();
        assert_eq!(fields(q), [".name"]);
    }
}
