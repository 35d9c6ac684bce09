//! Validation of route matches (hosts, path, methods, headers, query) and direct responses.

use crate::config::spec::{DirectResponseSpec, MatchSpec, ValueMatchSpec};
use crate::config::validate::Issues;

/// Compiled-program budget for user regexes, so one route cannot cost megabytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Headers the gateway computes itself; letting config set them invites
/// framing mismatches (response smuggling) or broken connection handling.
const GATEWAY_OWNED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

pub(crate) fn check_match(out: &mut Issues, base: &str, m: &MatchSpec) {
    for (j, host) in m.hosts.iter().enumerate() {
        if let Err(e) = check_host(host) {
            out.push(format!("{base}.hosts[{j}]"), e);
        }
    }
    if let Some(p) = &m.path {
        let field = format!("{base}.path");
        let set = [&p.exact, &p.prefix, &p.regex]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set != 1 {
            out.push(
                &field,
                "path match needs exactly one of exact, prefix or regex",
            );
        }
        for (kind, value) in [("exact", &p.exact), ("prefix", &p.prefix)] {
            if let Some(v) = value {
                if !v.starts_with('/') {
                    out.push(
                        format!("{field}.{kind}"),
                        format!("path {v:?} must start with \"/\""),
                    );
                } else if v.chars().any(|c| c == '?' || c == '#' || c.is_whitespace()) {
                    out.push(
                        format!("{field}.{kind}"),
                        format!("path {v:?} must not contain '?', '#' or whitespace"),
                    );
                }
            }
        }
        if let Some(r) = &p.regex {
            check_regex(out, format!("{field}.regex"), r);
        }
    }
    for (j, method) in m.methods.iter().enumerate() {
        let field = format!("{base}.methods[{j}]");
        if http::Method::from_bytes(method.as_bytes()).is_err() {
            out.push(field, format!("invalid method {method:?}"));
        } else if method.bytes().any(|b| b.is_ascii_lowercase()) {
            out.push(
                field,
                format!(
                    "method {method:?} must be upper-case ({})",
                    method.to_ascii_uppercase()
                ),
            );
        }
    }
    for (j, h) in m.headers.iter().enumerate() {
        let field = format!("{base}.headers[{j}]");
        if !h.name.is_empty() && http::HeaderName::from_bytes(h.name.as_bytes()).is_err() {
            out.push(
                format!("{field}.name"),
                format!("invalid header name {:?}", h.name),
            );
        }
        check_value_match(out, &field, h);
    }
    for (j, q) in m.query.iter().enumerate() {
        check_value_match(out, &format!("{base}.query[{j}]"), q);
    }
}

fn check_value_match(out: &mut Issues, field: &str, v: &ValueMatchSpec) {
    if v.name.is_empty() {
        out.push(format!("{field}.name"), "name must not be empty");
    }
    if v.present == Some(false) {
        out.push(
            format!("{field}.present"),
            "present: false is not supported; use present: true or omit",
        );
    } else {
        let set = usize::from(v.exact.is_some())
            + usize::from(v.regex.is_some())
            + usize::from(v.present.is_some());
        if set != 1 {
            out.push(field, "needs exactly one of exact, regex or present: true");
        }
    }
    if let Some(r) = &v.regex {
        check_regex(out, format!("{field}.regex"), r);
    }
}

fn check_regex(out: &mut Issues, field: String, pattern: &str) {
    let built = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build();
    match built {
        Ok(_) => {}
        Err(regex::Error::CompiledTooBig(_)) => {
            out.push(field, "regex is too large (compiled size exceeds 1 MiB)")
        }
        Err(e) => {
            // Syntax errors span several lines (pattern, caret, message); keep the message.
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or_else(|| text.lines().next().unwrap_or(""))
                .to_owned();
            out.push(field, format!("invalid regex {pattern:?}: {reason}"));
        }
    }
}

/// Host names: DNS labels `[a-z0-9-]` (any case), optionally `*.` as the whole
/// first label followed by at least one more label; no port.
fn check_host(host: &str) -> Result<(), String> {
    if host.contains(':') {
        return Err(format!("host {host:?} must not contain a port"));
    }
    if host == "*" {
        return Err("host \"*\" is not allowed; omit hosts to match any host".to_owned());
    }
    let rest = host.strip_prefix("*.").unwrap_or(host);
    if rest.is_empty() || rest.len() > 253 {
        return Err(format!("invalid host {host:?}"));
    }
    for label in rest.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("invalid host {host:?}: empty or over-long label"));
        }
        if label.contains('*') {
            return Err(format!(
                "invalid host {host:?}: \"*\" is only allowed as the whole first label (\"*.example.com\")"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "invalid host {host:?}: labels may contain only a-z, 0-9 and '-'"
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_direct_response(out: &mut Issues, base: &str, d: &DirectResponseSpec) {
    if !(200..=599).contains(&d.status) {
        out.push(
            format!("{base}.status"),
            format!("status {} is out of range (200-599)", d.status),
        );
    }
    for (name, value) in &d.headers {
        let field = format!("{base}.headers.{name}");
        match http::HeaderName::from_bytes(name.as_bytes()) {
            Err(_) => out.push(field, format!("invalid header name {name:?}")),
            Ok(h) if GATEWAY_OWNED_HEADERS.contains(&h.as_str()) => {
                out.push(field, format!("header {name:?} is set by the gateway"))
            }
            Ok(_) => {
                if http::HeaderValue::from_str(value).is_err() {
                    out.push(field, format!("invalid value for header {name:?}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(check_host("api.example.com").is_ok());
        assert!(check_host("API.Example.COM").is_ok());
        assert!(check_host("*.example.com").is_ok());
        assert!(check_host("*.local").is_ok());
        assert!(check_host("*").is_err());
        assert!(check_host("*.").is_err());
        assert!(check_host("a.*.com").is_err());
        assert!(check_host("*foo.com").is_err());
        assert!(check_host("example.com:8080").is_err());
        assert!(check_host("exa_mple.com").is_err());
        assert!(check_host("example.com.").is_err());
        assert!(check_host("").is_err());
    }

    #[test]
    fn regex_errors_are_one_line() {
        let mut out = Issues::default();
        check_regex(&mut out, "f".into(), "(unclosed");
        check_regex(&mut out, "g".into(), "a{1000}{1000}");
        check_regex(&mut out, "h".into(), "^/ok$");
        assert_eq!(out.0.len(), 2);
        assert!(
            out.0[0]
                .message
                .starts_with("invalid regex \"(unclosed\": ")
        );
        assert!(!out.0[0].message.contains('\n'));
        assert_eq!(
            out.0[1].message,
            "regex is too large (compiled size exceeds 1 MiB)"
        );
    }

    #[test]
    fn direct_response_and_match_rules() {
        let d: DirectResponseSpec = serde_json::from_value(serde_json::json!({
            "status": 101,
            "headers": {"content-length": "5", "bad name": "x", "x-ok": "fine", "x-nl": "a\nb"}
        }))
        .expect("shape");
        let m: MatchSpec = serde_json::from_value(serde_json::json!({
            "path": {"prefix": "/a?b", "regex": "x"},
            "methods": ["GE T"],
            "query": [{"name": "", "exact": "1", "regex": "1"}]
        }))
        .expect("shape");
        let mut out = Issues::default();
        check_direct_response(&mut out, "d", &d);
        check_match(&mut out, "m", &m);
        let fields: Vec<&str> = out.0.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "d.status",
                "d.headers.bad name",
                "d.headers.content-length",
                "d.headers.x-nl",
                "m.path",
                "m.path.prefix",
                "m.methods[0]",
                "m.query[0].name",
                "m.query[0]",
            ]
        );
        assert_eq!(
            out.0[2].message,
            "header \"content-length\" is set by the gateway"
        );
    }
}
