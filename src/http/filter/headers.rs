//! Request and response header modifiers (Gateway API
//! `RequestHeaderModifier` / `ResponseHeaderModifier`).

use http::{HeaderMap, HeaderName};

use crate::config::spec_route::HeaderModifierSpec;
use crate::http::filter::template::{Facts, Template};

/// Fields a modifier may not touch: framing and hop-by-hop fields (the
/// gateway owns them) and `host` (set through `rewrite.hostname`).
pub const PROTECTED: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

#[derive(Debug, Clone, Default)]
pub struct HeaderModifier {
    set: Vec<(HeaderName, Template)>,
    add: Vec<(HeaderName, Template)>,
    remove: Vec<HeaderName>,
}

impl HeaderModifier {
    /// Errors are `(field relative to the modifier, message)`.
    pub fn compile(spec: &HeaderModifierSpec) -> Result<Self, (String, String)> {
        let mut seen: Vec<String> = Vec::new();
        let mut name_of = |field: String, name: &str| -> Result<HeaderName, (String, String)> {
            let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                (
                    field.clone(),
                    format!("{name:?} is not a valid header name"),
                )
            })?;
            if PROTECTED.contains(&parsed.as_str()) {
                return Err((
                    field,
                    format!("{name:?} is managed by the gateway and cannot be modified"),
                ));
            }
            if seen.iter().any(|s| s == parsed.as_str()) {
                return Err((
                    field,
                    format!("{name:?} appears more than once in this modifier"),
                ));
            }
            seen.push(parsed.as_str().to_owned());
            Ok(parsed)
        };
        let mut out = Self::default();
        for (list, pairs) in [("set", &spec.set), ("add", &spec.add)] {
            for (i, pair) in pairs.iter().enumerate() {
                let name = name_of(format!("{list}[{i}].name"), &pair.name)?;
                let value =
                    Template::parse(&pair.value).map_err(|m| (format!("{list}[{i}].value"), m))?;
                if list == "set" {
                    out.set.push((name, value));
                } else {
                    out.add.push((name, value));
                }
            }
        }
        for (i, name) in spec.remove.iter().enumerate() {
            out.remove.push(name_of(format!("remove[{i}]"), name)?);
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    pub fn apply(&self, headers: &mut HeaderMap, facts: &Facts<'_>) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            if let Some(v) = value.render(facts) {
                headers.insert(name.clone(), v);
            }
        }
        for (name, value) in &self.add {
            if let Some(v) = value.render(facts) {
                headers.append(name.clone(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec_route::HeaderPairSpec;
    use http::HeaderValue;

    fn pair(name: &str, value: &str) -> HeaderPairSpec {
        HeaderPairSpec {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn set_add_remove() {
        let spec = HeaderModifierSpec {
            set: vec![pair("x-env", "prod"), pair("x-client", "${client_ip}")],
            add: vec![pair("x-tag", "b")],
            remove: vec!["x-secret".into()],
        };
        let m = HeaderModifier::compile(&spec).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-env", HeaderValue::from_static("dev"));
        h.insert("x-tag", HeaderValue::from_static("a"));
        h.insert("x-secret", HeaderValue::from_static("s"));
        let facts = Facts {
            client_ip: "10.0.0.1".parse().unwrap(),
            request_id: "r",
            host: "h",
            path: "/",
            method: "GET",
            scheme: "http",
        };
        m.apply(&mut h, &facts);
        assert_eq!(h["x-env"], "prod");
        assert_eq!(h["x-client"], "10.0.0.1");
        assert_eq!(h.get_all("x-tag").iter().count(), 2);
        assert!(!h.contains_key("x-secret"));
    }

    #[test]
    fn refuses_protected_duplicate_and_bad_names() {
        let cases = [
            (
                HeaderModifierSpec {
                    set: vec![pair("Host", "x")],
                    ..Default::default()
                },
                "set[0].name",
            ),
            (
                HeaderModifierSpec {
                    remove: vec!["content-length".into()],
                    ..Default::default()
                },
                "remove[0]",
            ),
            (
                HeaderModifierSpec {
                    set: vec![pair("x-a", "1")],
                    add: vec![pair("X-A", "2")],
                    ..Default::default()
                },
                "add[0].name",
            ),
            (
                HeaderModifierSpec {
                    add: vec![pair("bad name", "1")],
                    ..Default::default()
                },
                "add[0].name",
            ),
            (
                HeaderModifierSpec {
                    add: vec![pair("x-b", "${nope}")],
                    ..Default::default()
                },
                "add[0].value",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(
                HeaderModifier::compile(&spec).unwrap_err().0,
                field,
                "{spec:?}"
            );
        }
    }
}
