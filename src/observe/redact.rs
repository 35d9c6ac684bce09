//! Redaction for the access log: credentials in headers and query strings
//! are replaced before a value is ever stored in a record, so no sink can
//! leak them.

use std::borrow::Cow;
use std::sync::Arc;

use crate::config::spec_logging::AccessLogSpec;

/// Written in place of a redacted header value.
pub const REDACTED_HEADER: &str = "<redacted>";
/// Written in place of a redacted query parameter value.
pub const REDACTED_PARAM: &str = "REDACTED";

/// Headers that carry credentials and are never logged in clear.
const ALWAYS_REDACTED_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Query parameters commonly carrying credentials (compared lower-case).
const ALWAYS_REDACTED_PARAMS: [&str; 12] = [
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "code",
    "id_token",
    "password",
    "secret",
    "sig",
    "signature",
    "token",
];

/// The compiled redaction rules of one access log.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    /// Request headers to log, as (name, its label in records, redacted?).
    pub logged_headers: Vec<(http::HeaderName, Arc<str>, bool)>,
    params: Vec<String>,
}

impl Redaction {
    /// Header names that do not parse are skipped (validation reports them).
    pub fn from_spec(spec: &AccessLogSpec) -> Self {
        let redacted = |name: &str| {
            ALWAYS_REDACTED_HEADERS.contains(&name)
                || spec
                    .redact_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name))
        };
        let logged_headers = spec
            .headers
            .iter()
            .filter_map(|h| http::HeaderName::from_bytes(h.as_bytes()).ok())
            .map(|h| {
                let r = redacted(h.as_str());
                let label = Arc::from(h.as_str());
                (h, label, r)
            })
            .collect();
        Self {
            logged_headers,
            params: spec
                .redact_query_params
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether a SecLang variable name (`ARGS:password`,
    /// `REQUEST_HEADERS:authorization`, `REQUEST_COOKIES:sid`) holds a
    /// credential, so data matched in it is not logged.
    pub fn variable_redacted(&self, variable: &str) -> bool {
        let (collection, key) = variable.split_once(':').unwrap_or((variable, ""));
        let collection = collection.to_ascii_uppercase();
        match collection.as_str() {
            "REQUEST_COOKIES" | "REQUEST_COOKIES_NAMES" => true,
            "REQUEST_HEADERS" | "RESPONSE_HEADERS" => {
                let key = key.to_ascii_lowercase();
                ALWAYS_REDACTED_HEADERS.contains(&key.as_str())
                    || self
                        .logged_headers
                        .iter()
                        .any(|(h, _, redacted)| *redacted && h.as_str() == key)
            }
            "ARGS" | "ARGS_GET" | "ARGS_POST" | "FILES" => {
                // JSON bodies name arguments by path (`json.user.password`).
                let last = key.rsplit(['.', '/']).next().unwrap_or(key);
                self.param_redacted(key) || self.param_redacted(last)
            }
            // Whole bodies and request lines may carry anything.
            "REQUEST_BODY" | "FULL_REQUEST" | "REQUEST_LINE" | "REQUEST_URI"
            | "REQUEST_URI_RAW" | "QUERY_STRING" | "XML" => true,
            _ => false,
        }
    }

    fn param_redacted(&self, name: &str) -> bool {
        // A client may spell `token` as `%74oken`; the upstream decodes it,
        // so compare the decoded name.
        let lower = percent_decode(name).to_ascii_lowercase();
        ALWAYS_REDACTED_PARAMS.contains(&lower.as_str()) || self.params.contains(&lower)
    }

    /// The query with credential values replaced; borrowed when unchanged.
    pub fn query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        let needs = query
            .split('&')
            .any(|pair| self.param_redacted(param_name(pair)));
        if !needs {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let name = param_name(pair);
            if self.param_redacted(name) {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED_PARAM);
            } else {
                out.push_str(pair);
            }
        }
        Cow::Owned(out)
    }

    /// A URL-ish value (Referer) with its query redacted.
    pub fn url<'a>(&self, url: &'a str) -> Cow<'a, str> {
        match url.split_once('?') {
            Some((base, query)) => match self.query(query) {
                Cow::Borrowed(_) => Cow::Borrowed(url),
                Cow::Owned(q) => Cow::Owned(format!("{base}?{q}")),
            },
            None => Cow::Borrowed(url),
        }
    }
}

/// The parameter name of `name=value`.
fn param_name(pair: &str) -> &str {
    pair.split('=').next().unwrap_or(pair)
}

/// Decodes `%XX` escapes (and `+`); invalid escapes are kept as they are.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|&c| (c as char).to_digit(16));
        match b {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    // Two hex digits are below 256.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(params: &[&str]) -> Redaction {
        Redaction::from_spec(&AccessLogSpec {
            headers: vec![
                "user-agent".into(),
                "Authorization".into(),
                "x-secret".into(),
            ],
            redact_headers: vec!["X-Secret".into()],
            redact_query_params: params.iter().map(|p| p.to_string()).collect(),
            ..AccessLogSpec::default()
        })
    }

    #[test]
    fn query_credentials_are_replaced() {
        let r = rules(&["session"]);
        assert_eq!(r.query("a=1&b=2"), "a=1&b=2");
        assert_eq!(
            r.query("a=1&Token=abc&session=s&x"),
            "a=1&Token=REDACTED&session=REDACTED&x"
        );
        assert_eq!(r.query("access_token"), "access_token=REDACTED");
        assert_eq!(r.query("%74oken=x&%zz=1"), "%74oken=REDACTED&%zz=1");
        assert_eq!(r.query("a=%"), "a=%");
        assert_eq!(
            r.url("https://e.com/p?api_key=k&q=1"),
            "https://e.com/p?api_key=REDACTED&q=1"
        );
    }

    #[test]
    fn credential_headers_are_flagged() {
        let r = rules(&[]);
        let flags: Vec<_> = r
            .logged_headers
            .iter()
            .map(|(h, _, red)| (h.as_str(), *red))
            .collect();
        assert_eq!(
            flags,
            [
                ("user-agent", false),
                ("authorization", true),
                ("x-secret", true)
            ]
        );
    }
}
