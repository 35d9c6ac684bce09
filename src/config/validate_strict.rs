//! Semantic validation of a listener's request-hygiene settings
//! (`http.strip_untrusted_headers`, `http.body_timeout`).

use crate::config::spec::HttpSpec;
use crate::config::validate::Issues;

pub(crate) fn check(out: &mut Issues, base: &str, h: &HttpSpec) {
    if h.body_timeout.is_some_and(|d| d.is_zero()) {
        out.push(
            format!("{base}.body_timeout"),
            "must be greater than 0 (null disables it)",
        );
    }
    if let crate::config::spec_strict::ServerHeader::Set(value) = &h.server_header
        && (value.is_empty() || http::HeaderValue::from_str(value).is_err())
    {
        out.push(
            format!("{base}.server_header.set"),
            format!("{value:?} is not a valid, non-empty header value"),
        );
    }
    for (i, name) in h.strip_untrusted_headers.iter().enumerate() {
        let field = format!("{base}.strip_untrusted_headers[{i}]");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(field, format!("{name:?} is not a valid header name"));
        } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
            out.push(field, format!("{name:?}: write header names in lower case"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_strip_names_are_named() {
        let spec = HttpSpec {
            strip_untrusted_headers: vec!["ok-name".into(), "bad name".into(), "Upper".into()],
            ..HttpSpec::default()
        };
        let mut out = Issues::default();
        check(&mut out, "listeners[0].http", &spec);
        let fields: Vec<_> = out.0.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "listeners[0].http.strip_untrusted_headers[1]",
                "listeners[0].http.strip_untrusted_headers[2]"
            ]
        );
    }
}
