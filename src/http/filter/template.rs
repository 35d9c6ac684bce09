//! Header values with request facts (`${client_ip}`, `${request_id}`, ...),
//! parsed once at compile time and rendered per request.

use std::net::IpAddr;

use http::HeaderValue;

/// The request facts a value may name.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub client_ip: IpAddr,
    pub request_id: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub method: &'a str,
    pub scheme: &'a str,
}

/// The facts copied out of a request whose route has header modifiers
/// (the request itself is taken apart before they apply).
#[derive(Debug, Clone)]
pub struct OwnedFacts {
    pub client_ip: IpAddr,
    pub request_id: String,
    pub host: String,
    pub path: String,
    pub method: String,
    pub scheme: &'static str,
}

impl OwnedFacts {
    pub fn facts(&self) -> Facts<'_> {
        Facts {
            client_ip: self.client_ip,
            request_id: &self.request_id,
            host: &self.host,
            path: &self.path,
            method: &self.method,
            scheme: self.scheme,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    ClientIp,
    RequestId,
    Host,
    Path,
    Method,
    Scheme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var(Var),
}

/// A compiled value: a constant (no per-request work) or parts.
#[derive(Debug, Clone)]
pub enum Template {
    Constant(HeaderValue),
    Parts(Vec<Part>),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                literal.push('$');
                rest = after;
                continue;
            }
            let Some(inner) = rest.strip_prefix('{') else {
                return Err("`$` starts `${fact}`; write `$$` for a literal `$`".into());
            };
            let Some(end) = inner.find('}') else {
                return Err("unclosed `${`".into());
            };
            let var = match &inner[..end] {
                "client_ip" => Var::ClientIp,
                "request_id" => Var::RequestId,
                "host" => Var::Host,
                "path" => Var::Path,
                "method" => Var::Method,
                "scheme" => Var::Scheme,
                other => {
                    return Err(format!(
                        "unknown fact {other:?} (client_ip, request_id, host, path, method, scheme)"
                    ));
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(var));
            rest = &inner[end + 1..];
        }
        literal.push_str(rest);
        if parts.is_empty() {
            return HeaderValue::from_str(&literal)
                .map(Template::Constant)
                .map_err(|_| format!("{literal:?} is not a valid header value"));
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        for part in &parts {
            if let Part::Text(t) = part
                && HeaderValue::from_str(t).is_err()
            {
                return Err(format!("{t:?} is not valid in a header value"));
            }
        }
        Ok(Template::Parts(parts))
    }

    /// The value for this request; `None` if a fact cannot be a header value
    /// (the edit is then skipped rather than sending a broken header).
    pub fn render(&self, facts: &Facts<'_>) -> Option<HeaderValue> {
        let parts = match self {
            Template::Constant(v) => return Some(v.clone()),
            Template::Parts(parts) => parts,
        };
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(Var::ClientIp) => {
                    use std::fmt::Write;
                    let _ = write!(out, "{}", facts.client_ip);
                }
                Part::Var(Var::RequestId) => out.push_str(facts.request_id),
                Part::Var(Var::Host) => out.push_str(facts.host),
                Part::Var(Var::Path) => out.push_str(facts.path),
                Part::Var(Var::Method) => out.push_str(facts.method),
                Part::Var(Var::Scheme) => out.push_str(facts.scheme),
            }
        }
        HeaderValue::from_str(&out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            client_ip: "203.0.113.7".parse().unwrap(),
            request_id: "abc",
            host: "example.com",
            path: "/a",
            method: "GET",
            scheme: "https",
        }
    }

    #[test]
    fn renders_facts_and_literals() {
        let t = Template::parse(
            "ip=${client_ip}; id=${request_id} $$5 ${scheme}://${host}${path} ${method}",
        )
        .unwrap();
        assert_eq!(
            t.render(&facts()).unwrap(),
            "ip=203.0.113.7; id=abc $5 https://example.com/a GET"
        );
        assert!(matches!(
            Template::parse("plain").unwrap(),
            Template::Constant(_)
        ));
        assert_eq!(
            Template::parse("a$$b").unwrap().render(&facts()).unwrap(),
            "a$b"
        );
    }

    #[test]
    fn refuses_bad_templates() {
        for bad in ["${nope}", "${host", "$host", "bad\nvalue", "x\n${host}"] {
            assert!(Template::parse(bad).is_err(), "{bad:?}");
        }
    }
}
