//! The redirect route action (Gateway API `RequestRedirect`): the answer's
//! `Location` is the request's URL with the configured parts replaced.

use http::{HeaderValue, StatusCode};

use crate::config::spec_route::RedirectSpec;
use crate::http::filter::path::PathModifier;

#[derive(Debug, Clone)]
pub struct Redirect {
    scheme: Option<&'static str>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<PathModifier>,
    pub status: StatusCode,
}

/// What the request looked like.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    /// The port in the request's `Host`, if any.
    pub port: Option<u16>,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl Redirect {
    pub fn compile(
        spec: &RedirectSpec,
        route_prefix: Option<(&str, bool)>,
    ) -> Result<Self, (String, String)> {
        let scheme = match spec.scheme.as_deref() {
            None => None,
            Some("http") => Some("http"),
            Some("https") => Some("https"),
            Some(other) => {
                return Err(("scheme".into(), format!("{other:?}: must be http or https")));
            }
        };
        if let Some(host) = &spec.hostname
            && !valid_hostname(host)
        {
            return Err((
                "hostname".into(),
                format!("{host:?} is not a valid host name (no port, no path)"),
            ));
        }
        if spec.port == Some(0) {
            return Err(("port".into(), "must be between 1 and 65535".into()));
        }
        let status = match spec.status_code {
            301 | 302 | 303 | 307 | 308 => StatusCode::from_u16(spec.status_code)
                .map_err(|_| ("status_code".to_owned(), "invalid status".to_owned()))?,
            other => {
                return Err((
                    "status_code".into(),
                    format!("{other}: must be 301, 302, 303, 307 or 308"),
                ));
            }
        };
        let path = spec
            .path
            .as_ref()
            .map(|p| PathModifier::compile(p, route_prefix))
            .transpose()
            .map_err(|(f, m)| (join("path", &f), m))?;
        Ok(Self {
            scheme,
            hostname: spec.hostname.clone(),
            port: spec.port,
            path,
            status,
        })
    }

    /// The `Location` value; `None` if the request's host cannot be one.
    pub fn location(&self, origin: Origin<'_>) -> Option<HeaderValue> {
        let scheme = self.scheme.unwrap_or(origin.scheme);
        let host = self.hostname.as_deref().unwrap_or(origin.host);
        // A changed scheme without a port goes to that scheme's default
        // port (Gateway API); otherwise the request's port is kept.
        let port = match (self.port, self.scheme) {
            (Some(p), _) => Some(p),
            (None, Some(_)) => None,
            (None, None) => origin.port,
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let path = match &self.path {
            Some(m) => m.apply(origin.path),
            None => origin.path.to_owned(),
        };
        let mut out = format!("{scheme}://");
        if host.contains(':') {
            out.push('[');
            out.push_str(host);
            out.push(']');
        } else {
            out.push_str(host);
        }
        if let Some(p) = port.filter(|p| *p != default_port) {
            out.push_str(&format!(":{p}"));
        }
        out.push_str(&path);
        if let Some(q) = origin.query {
            out.push('?');
            out.push_str(q);
        }
        HeaderValue::from_str(&out).ok()
    }
}

pub fn valid_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn join(base: &str, field: &str) -> String {
    if field.is_empty() {
        base.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec_route::PathModifierSpec;

    fn origin() -> Origin<'static> {
        Origin {
            scheme: "http",
            host: "example.com",
            port: Some(8080),
            path: "/old/x",
            query: Some("q=1"),
        }
    }

    fn spec() -> RedirectSpec {
        RedirectSpec {
            scheme: None,
            hostname: None,
            port: None,
            path: None,
            status_code: 302,
        }
    }

    #[test]
    fn locations() {
        let r = Redirect::compile(
            &RedirectSpec {
                scheme: Some("https".into()),
                ..spec()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            r.location(origin()).unwrap(),
            "https://example.com/old/x?q=1"
        );
        let r = Redirect::compile(
            &RedirectSpec {
                hostname: Some("new.example".into()),
                ..spec()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            r.location(origin()).unwrap(),
            "http://new.example:8080/old/x?q=1"
        );
        let r = Redirect::compile(
            &RedirectSpec {
                port: Some(8443),
                scheme: Some("https".into()),
                path: Some(PathModifierSpec {
                    replace_prefix_match: Some("/new".into()),
                    ..Default::default()
                }),
                status_code: 301,
                ..spec()
            },
            Some(("/old", false)),
        )
        .unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(
            r.location(origin()).unwrap(),
            "https://example.com:8443/new/x?q=1"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = |s: RedirectSpec| Redirect::compile(&s, None).unwrap_err().0;
        assert_eq!(
            err(RedirectSpec {
                scheme: Some("ftp".into()),
                ..spec()
            }),
            "scheme"
        );
        assert_eq!(
            err(RedirectSpec {
                status_code: 200,
                ..spec()
            }),
            "status_code"
        );
        assert_eq!(
            err(RedirectSpec {
                port: Some(0),
                ..spec()
            }),
            "port"
        );
        assert_eq!(
            err(RedirectSpec {
                hostname: Some("a/b".into()),
                ..spec()
            }),
            "hostname"
        );
        assert_eq!(
            err(RedirectSpec {
                path: Some(PathModifierSpec::default()),
                ..spec()
            }),
            "path"
        );
    }
}
