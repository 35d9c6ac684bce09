//! Spec types for the request-hygiene settings of a listener's `http`:
//! header names with `_`, headers stripped from untrusted peers and the
//! path strictness mode. Pure data; the runtime lives in `src/http/`.

use serde::{Deserialize, Serialize};

/// What to do with request header names that contain `_`.
///
/// CGI/WSGI-style backends map `_` and `-` to the same variable, so
/// `X_Forwarded_For` would reach them as a second `X-Forwarded-For` that the
/// gateway never rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnderscoreHeaders {
    /// Remove every such header before policies and the backend see it
    /// (nginx's default, `underscores_in_headers off`).
    #[default]
    Drop,
    /// Answer 400 (`underscore_header`).
    Reject,
    /// Keep them, except a name that becomes a framing, hop-by-hop,
    /// forwarding or stripped header once `_` reads as `-`: that copy is
    /// removed.
    Allow,
}

/// How strictly request paths are judged before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathStrictness {
    /// Also refuse spellings that common backends read differently from the
    /// gateway: matrix parameters (`;`), double encoding (`%25` + hex),
    /// escapes that are not UTF-8 (overlong forms), fullwidth ASCII forms,
    /// encoded control characters and a segment ending in an encoded space.
    #[default]
    Strict,
    /// RFC 3986 normalisation only (the behaviour before strict mode).
    Standard,
}

/// What happens to a backend's `Server` response header, which tends to
/// name the backend's software and version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerHeader {
    /// Removed (default).
    #[default]
    Remove,
    /// Passed on as the backend sent it.
    Keep,
    /// Replaced by this value (`server_header: { set: portcullis }`).
    Set(String),
}

/// Headers removed from requests of untrusted peers by default: vendor
/// client-IP headers and URL/method override headers. Backends and
/// frameworks believe them as much as `X-Forwarded-For`.
pub const DEFAULT_UNTRUSTED_STRIP: [&str; 16] = [
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "x-original-url",
    "x-rewrite-url",
    "x-override-url",
    "x-original-uri",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
];

/// The default for `http.strip_untrusted_headers`.
pub fn default_untrusted_strip() -> Vec<String> {
    DEFAULT_UNTRUSTED_STRIP
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}
