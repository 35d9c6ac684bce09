//! Where a bearer credential is read from: a header (`Authorization`
//! expects the `Bearer` scheme), a cookie or a query parameter, tried in
//! the configured order; and how it is removed before forwarding.

use http::{HeaderMap, HeaderName, header};

use crate::config::spec_jwt::TokenSourceSpec;
use crate::policy::context::HeaderEdits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A header holding the token itself.
    Header(HeaderName),
    Cookie(String),
    Query(String),
}

impl TokenSource {
    pub fn compile(spec: &TokenSourceSpec) -> Result<Self, String> {
        Ok(match spec {
            TokenSourceSpec::Header(name) if name.eq_ignore_ascii_case("authorization") => {
                TokenSource::Bearer
            }
            TokenSourceSpec::Header(name) => TokenSource::Header(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("invalid header name {name:?}"))?,
            ),
            TokenSourceSpec::Cookie(name) if !name.is_empty() => TokenSource::Cookie(name.clone()),
            TokenSourceSpec::Query(name) if !name.is_empty() => TokenSource::Query(name.clone()),
            _ => return Err("a cookie or query parameter name is required".to_owned()),
        })
    }

    /// The credential, if this source carries one.
    pub fn find<'a>(&self, headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
        match self {
            TokenSource::Bearer => {
                let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                let (scheme, token) = value.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim())
                    .filter(|t| !t.is_empty())
            }
            TokenSource::Header(name) => headers
                .get(name)?
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|t| !t.is_empty()),
            TokenSource::Cookie(name) => cookie(headers, name),
            TokenSource::Query(name) => query?.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name && !v.is_empty()).then_some(v)
            }),
        }
    }

    /// Removes the credential before the request goes upstream. A query
    /// parameter stays (the target is forwarded as received; documented).
    pub fn strip(&self, edits: &mut HeaderEdits) {
        match self {
            TokenSource::Bearer => edits.remove(header::AUTHORIZATION),
            TokenSource::Header(name) => edits.remove(name.clone()),
            TokenSource::Cookie(_) | TokenSource::Query(_) => {}
        }
    }
}

/// The first credential any of `sources` carries, with its source.
pub fn first<'a, 's>(
    sources: &'s [TokenSource],
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Option<(&'s TokenSource, &'a str)> {
    sources
        .iter()
        .find_map(|s| s.find(headers, query).map(|t| (s, t)))
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        h.insert("cookie", "a=1; session=xyz".parse().unwrap());
        assert_eq!(TokenSource::Bearer.find(&h, None), Some("abc"));
        assert_eq!(
            TokenSource::Cookie("session".into()).find(&h, None),
            Some("xyz")
        );
        assert_eq!(
            TokenSource::Query("t".into()).find(&h, Some("x=1&t=q")),
            Some("q")
        );
        let mut basic = HeaderMap::new();
        basic.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(TokenSource::Bearer.find(&basic, None), None);
        let sources = [TokenSource::Cookie("nope".into()), TokenSource::Bearer];
        assert_eq!(first(&sources, &h, None).map(|(_, t)| t), Some("abc"));
    }
}
