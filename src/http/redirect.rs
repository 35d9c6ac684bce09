//! HTTP → HTTPS: the redirect a plain listener answers with, and the
//! `Strict-Transport-Security` header a TLS listener adds to its responses.

use http::{HeaderValue, Method, Response, StatusCode, header};

use crate::http::body::ResponseBody;
use crate::tls::spec::HttpsRedirectSpec;

/// The redirect for a request to `host` + `target`. 301 for GET and HEAD;
/// 308 for other methods, because a 301 lets clients turn a POST into a GET
/// and drop its body.
pub fn to_https(
    spec: &HttpsRedirectSpec,
    method: &Method,
    host: &str,
    target: &str,
) -> Option<Response<ResponseBody>> {
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    // The host was validated by routing; IPv6 literals need their brackets.
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let location = if spec.port == 443 {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{}{target}", spec.port)
    };
    let location = HeaderValue::from_str(&location).ok()?;
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Some(response)
}

/// Adds HSTS unless the backend set its own.
pub fn add_hsts(response: &mut Response<ResponseBody>, value: Option<&HeaderValue>) {
    if let Some(value) = value
        && !response
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_is_301_and_post_is_308() {
        let spec = HttpsRedirectSpec { port: 8443 };
        let r = to_https(&spec, &Method::GET, "a.example", "/x?y=1");
        let r = r.map(|r| (r.status(), r.headers()[header::LOCATION].clone()));
        assert_eq!(
            r,
            Some((
                StatusCode::MOVED_PERMANENTLY,
                HeaderValue::from_static("https://a.example:8443/x?y=1")
            ))
        );
        let spec = HttpsRedirectSpec { port: 443 };
        let r = to_https(&spec, &Method::POST, "a.example", "/");
        let r = r.map(|r| (r.status(), r.headers()[header::LOCATION].clone()));
        assert_eq!(
            r,
            Some((
                StatusCode::PERMANENT_REDIRECT,
                HeaderValue::from_static("https://a.example/")
            ))
        );
    }
}
