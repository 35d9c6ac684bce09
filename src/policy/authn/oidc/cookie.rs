//! The `Set-Cookie` values of the login and session cookies (`Secure`,
//! `HttpOnly`, `SameSite`, path, domain), and removing them from the
//! request sent upstream: the backend never sees the session cookie.

use http::{HeaderMap, HeaderValue, header};

use crate::config::spec_oidc::{SameSiteSpec, SessionCookieSpec};
use crate::policy::context::HeaderEdits;

#[derive(Debug)]
pub struct Cookies {
    pub session_name: String,
    /// The pending-login cookie: `<name>_login`.
    pub login_name: String,
    attributes: String,
}

impl Cookies {
    pub fn compile(spec: &SessionCookieSpec) -> Result<Self, String> {
        if !valid_name(&spec.name) {
            return Err("cookie.name: letters, digits, '-', '_' or '.' only".to_owned());
        }
        let mut attributes = format!("; Path={}; HttpOnly", spec.path);
        if spec.secure || spec.same_site == SameSiteSpec::None {
            attributes.push_str("; Secure");
        }
        attributes.push_str(match spec.same_site {
            SameSiteSpec::Lax => "; SameSite=Lax",
            SameSiteSpec::Strict => "; SameSite=Strict",
            SameSiteSpec::None => "; SameSite=None",
        });
        if let Some(domain) = &spec.domain {
            attributes.push_str("; Domain=");
            attributes.push_str(domain);
        }
        if HeaderValue::from_str(&attributes).is_err() {
            return Err("cookie: path or domain not usable in a header".to_owned());
        }
        Ok(Self {
            session_name: spec.name.clone(),
            login_name: format!("{}_login", spec.name),
            attributes,
        })
    }

    /// `name=value` for `max_age` seconds.
    pub fn set(&self, name: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
        HeaderValue::from_str(&format!(
            "{name}={value}; Max-Age={max_age}{}",
            self.attributes
        ))
        .ok()
    }

    /// Deletes the cookie in the browser.
    pub fn clear(&self, name: &str) -> Option<HeaderValue> {
        self.set(name, "", 0)
    }

    /// Removes our cookies from the upstream request's `Cookie` header,
    /// keeping the others.
    pub fn strip_upstream(&self, headers: &HeaderMap, edits: &mut HeaderEdits) {
        let mut ours = false;
        let mut kept = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else {
                // Not text: we cannot tell what it holds; drop it whole.
                ours = true;
                continue;
            };
            for pair in text.split(';') {
                let pair = pair.trim();
                let name = pair.split_once('=').map_or(pair, |(k, _)| k);
                if name == self.session_name || name == self.login_name {
                    ours = true;
                } else if !pair.is_empty() {
                    kept.push(pair);
                }
            }
        }
        if !ours {
            return;
        }
        match HeaderValue::from_str(&kept.join("; ")) {
            Ok(v) if !kept.is_empty() => edits.set(header::COOKIE, v),
            _ => edits.remove(header::COOKIE),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_stripping() {
        let c = Cookies::compile(&SessionCookieSpec::default()).unwrap();
        let set = c.set("portcullis_session", "v", 60).unwrap();
        assert_eq!(
            set,
            "portcullis_session=v; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; portcullis_session=x"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("portcullis_session_login=y; b=2"),
        );
        let mut edits = HeaderEdits::default();
        c.strip_upstream(&headers, &mut edits);
        edits.apply(&mut headers);
        assert_eq!(headers.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(headers[header::COOKIE], "a=1; b=2");
        let mut only = HeaderMap::new();
        only.insert(
            header::COOKIE,
            HeaderValue::from_static("portcullis_session=x"),
        );
        let mut edits = HeaderEdits::default();
        c.strip_upstream(&only, &mut edits);
        edits.apply(&mut only);
        assert!(!only.contains_key(header::COOKIE));
        let bad = SessionCookieSpec {
            name: "a b".into(),
            ..SessionCookieSpec::default()
        };
        assert!(Cookies::compile(&bad).is_err());
    }
}
