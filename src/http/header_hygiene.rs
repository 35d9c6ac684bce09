//! Request-header hygiene before routing (stage 3): header names with `_`
//! and the vendor client-IP / URL-override headers of untrusted peers.
//!
//! Runs before policies so that they, and the backend, see the same set of
//! headers. Every name that a backend could read as a framing or forwarding
//! header, but the gateway would not, is removed or refused here.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::spec::HttpSpec;
use crate::config::spec_strict::{ServerHeader, UnderscoreHeaders};

/// Names a `_` spelling must never stand in for, whatever the mode: framing,
/// hop-by-hop, routing and the forwarding headers the gateway sets.
const PROTECTED: [&str; 20] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-client-cert",
    "x-real-ip",
    "x-request-id",
];

/// Compiled from a listener's `http` spec.
#[derive(Debug, Clone)]
pub struct HeaderHygiene {
    underscore: UnderscoreHeaders,
    strip_untrusted: Vec<HeaderName>,
    /// `None`: keep the backend's `Server`; `Some(None)`: remove it;
    /// `Some(Some(v))`: replace it with `v`.
    server: Option<Option<HeaderValue>>,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnderscoreRefused;

impl HeaderHygiene {
    /// Names were validated; an invalid one is skipped rather than panicking.
    pub fn from_spec(spec: &HttpSpec) -> Self {
        let strip_untrusted = spec
            .strip_untrusted_headers
            .iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        let server = match &spec.server_header {
            ServerHeader::Keep => None,
            ServerHeader::Remove => Some(None),
            ServerHeader::Set(v) => Some(HeaderValue::from_str(v).ok()),
        };
        Self {
            underscore: spec.underscore_headers,
            strip_untrusted,
            server,
        }
    }

    /// Applies `server_header` to a backend's response headers.
    pub fn response(&self, headers: &mut HeaderMap) {
        match &self.server {
            None => {}
            Some(None) => {
                headers.remove(header::SERVER);
            }
            Some(Some(value)) => {
                headers.insert(header::SERVER, value.clone());
            }
        }
    }

    /// Cleans `headers` in place; `Err` when the mode refuses the request.
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        peer_trusted: bool,
    ) -> Result<(), UnderscoreRefused> {
        if !peer_trusted {
            for name in &self.strip_untrusted {
                headers.remove(name);
            }
        }
        // Common case: no `_` anywhere, one scan and no allocation.
        if !headers.keys().any(|n| n.as_str().contains('_')) {
            return Ok(());
        }
        if self.underscore == UnderscoreHeaders::Reject {
            return Err(UnderscoreRefused);
        }
        let doomed: Vec<HeaderName> = headers
            .keys()
            .filter(|n| n.as_str().contains('_'))
            .filter(|n| {
                self.underscore == UnderscoreHeaders::Drop || self.shadows(n.as_str(), peer_trusted)
            })
            .cloned()
            .collect();
        for name in doomed {
            headers.remove(name);
        }
        Ok(())
    }

    /// True when `name` with `_` read as `-` is a header the gateway owns
    /// (or strips from this peer).
    fn shadows(&self, name: &str, peer_trusted: bool) -> bool {
        let mapped = name.replace('_', "-");
        PROTECTED.contains(&mapped.as_str())
            || (!peer_trusted && self.strip_untrusted.iter().any(|n| n.as_str() == mapped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hygiene(mode: UnderscoreHeaders) -> HeaderHygiene {
        let spec = HttpSpec {
            underscore_headers: mode,
            ..HttpSpec::default()
        };
        HeaderHygiene::from_spec(&spec)
    }

    fn headers(names: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for n in names {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        h
    }

    #[test]
    fn drop_removes_every_underscore_name() {
        let mut h = headers(&["x_api", "transfer_encoding", "x-keep"]);
        hygiene(UnderscoreHeaders::Drop)
            .apply(&mut h, false)
            .unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn reject_refuses_and_clean_requests_pass() {
        let mut h = headers(&["x_api"]);
        assert_eq!(
            hygiene(UnderscoreHeaders::Reject).apply(&mut h, true),
            Err(UnderscoreRefused)
        );
        let mut h = headers(&["x-api"]);
        assert_eq!(
            hygiene(UnderscoreHeaders::Reject).apply(&mut h, true),
            Ok(())
        );
    }

    #[test]
    fn allow_keeps_only_names_that_shadow_nothing() {
        let mut h = headers(&[
            "x_api_key",
            "content_length",
            "x_forwarded_for",
            "x_real_ip",
            "true_client_ip",
        ]);
        hygiene(UnderscoreHeaders::Allow)
            .apply(&mut h, false)
            .unwrap();
        assert_eq!(
            h.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x_api_key"]
        );
        // From a trusted proxy a vendor header is believed, so its `_`
        // spelling is too; framing never is.
        let mut h = headers(&["true_client_ip", "transfer_encoding"]);
        hygiene(UnderscoreHeaders::Allow)
            .apply(&mut h, true)
            .unwrap();
        assert_eq!(
            h.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["true_client_ip"]
        );
    }

    #[test]
    fn server_header_removed_kept_or_replaced() {
        let backend = || {
            let mut h = HeaderMap::new();
            h.insert(
                header::SERVER,
                HeaderValue::from_static("Apache/2.4.1 (Unix)"),
            );
            h
        };
        let with = |mode: ServerHeader| {
            let spec = HttpSpec {
                server_header: mode,
                ..HttpSpec::default()
            };
            let mut h = backend();
            HeaderHygiene::from_spec(&spec).response(&mut h);
            h.get(header::SERVER)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(with(ServerHeader::Remove), None);
        assert_eq!(
            with(ServerHeader::Keep).as_deref(),
            Some("Apache/2.4.1 (Unix)")
        );
        assert_eq!(
            with(ServerHeader::Set("edge".into())).as_deref(),
            Some("edge")
        );
    }

    #[test]
    fn vendor_headers_stripped_from_untrusted_peers_only() {
        let names = [
            "true-client-ip",
            "cf-connecting-ip",
            "x-original-url",
            "x-http-method-override",
        ];
        let mut h = headers(&names);
        hygiene(UnderscoreHeaders::Drop)
            .apply(&mut h, false)
            .unwrap();
        assert!(h.is_empty(), "{h:?}");
        let mut h = headers(&names);
        hygiene(UnderscoreHeaders::Drop)
            .apply(&mut h, true)
            .unwrap();
        assert_eq!(h.len(), names.len());
    }
}
