//! The authorization code flow with PKCE (RFC 7636, S256), `state` and
//! `nonce`: sending a browser to the provider, and answering the callback.
//! The login state (state, nonce, PKCE verifier, where to return) travels
//! in a short-lived sealed cookie bound to the browser, so a callback from
//! another browser (login CSRF) or with a forged state is refused with 400,
//! and pending logins cost the gateway no memory.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};

use crate::http::reject::Rejection;
use crate::net::http_client::percent_encode_into;
use crate::policy::PolicyInput;
use crate::policy::authn::oidc::Oidc;
use crate::policy::authn::oidc::session::Session;
use crate::policy::authn::token;
use crate::policy::principal::AuthMethod;

/// A pending login lives this long (seconds).
pub const LOGIN_TTL: u64 = 600;
/// Sealing purposes (associated data): a cookie of one kind never opens as the other.
pub const PURPOSE_LOGIN: &str = "portcullis-oidc-login";
pub const PURPOSE_SESSION: &str = "portcullis-oidc-session";
/// Longest return URL remembered.
const MAX_RETURN: usize = 2048;

/// What the login cookie carries.
#[derive(Debug, Serialize, Deserialize)]
struct LoginState {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires: u64,
}

/// Constant-time equality (state and nonce checks).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request is a top-level browser navigation (which may be
/// sent to the login page); API calls get a 401 instead.
pub fn is_navigation(input: &PolicyInput<'_>) -> bool {
    if input.method != http::Method::GET && input.method != http::Method::HEAD {
        return false;
    }
    let h = input.headers;
    if h.contains_key("x-requested-with") {
        return false;
    }
    if let Some(mode) = h.get("sec-fetch-mode")
        && mode.as_bytes() != b"navigate"
    {
        return false;
    }
    let accept = h
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    !accept.contains("application/json") || accept.contains("text/html")
}

fn random_text<const N: usize>(oidc: &Oidc) -> Option<String> {
    oidc.sealer.random::<N>().map(|b| URL_SAFE_NO_PAD.encode(b))
}

/// Where to come back to after login: this request's own path and query
/// (never an absolute URL, so the callback cannot be an open redirect).
fn return_to(input: &PolicyInput<'_>) -> String {
    let mut target = input.path.to_owned();
    if let Some(q) = input.query {
        target.push('?');
        target.push_str(q);
    }
    // `//host` and `/\host` are other hosts to a browser.
    if !target.starts_with('/')
        || target.starts_with("//")
        || target.contains('\\')
        || target.len() > MAX_RETURN
    {
        return "/".to_owned();
    }
    target
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unavailable(policy: &Arc<str>) -> Rejection {
    Rejection::AuthUnavailable {
        policy: Arc::clone(policy),
        reason: "idp_unavailable",
    }
}

/// A 302 to the provider's authorization endpoint, with the login cookie.
pub async fn start_login(
    oidc: &Oidc,
    policy: &Arc<str>,
    input: &PolicyInput<'_>,
    now: u64,
) -> Rejection {
    let Some(endpoints) = oidc.provider.endpoints().await else {
        return unavailable(policy);
    };
    let Some(authorize) = endpoints.authorization_endpoint.as_deref() else {
        return unavailable(policy);
    };
    let (Some(state), Some(nonce), Some(verifier)) = (
        random_text::<16>(oidc),
        random_text::<16>(oidc),
        random_text::<32>(oidc),
    ) else {
        return unavailable(policy);
    };
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut location = String::with_capacity(authorize.len() + 256);
    location.push_str(authorize);
    location.push(if authorize.contains('?') { '&' } else { '?' });
    let params = [
        ("response_type", "code"),
        ("client_id", oidc.spec.client_id.as_str()),
        ("redirect_uri", oidc.spec.redirect_uri.as_str()),
        ("scope", oidc.scope.as_str()),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            location.push('&');
        }
        location.push_str(k);
        location.push('=');
        percent_encode_into(v, &mut location);
    }
    let login = LoginState {
        state,
        nonce,
        verifier,
        return_to: return_to(input),
        expires: now + LOGIN_TTL,
    };
    let sealed = serde_json::to_vec(&login)
        .ok()
        .and_then(|json| oidc.sealer.seal(PURPOSE_LOGIN, &json));
    let (Some(sealed), Ok(location)) = (sealed, HeaderValue::from_str(&location)) else {
        return unavailable(policy);
    };
    Rejection::LoginRedirect {
        policy: Arc::clone(policy),
        location,
        cookies: oidc
            .cookies
            .set(&oidc.cookies.login_name, &sealed, LOGIN_TTL)
            .into_iter()
            .collect(),
    }
}

fn bad_callback(reason: &'static str) -> Rejection {
    Rejection::BadRequest { reason }
}

/// Answers the provider's redirect back: checks state against the login
/// cookie, exchanges the code (with the PKCE verifier), verifies the ID
/// token and its nonce, stores the session and sends the browser back.
pub async fn callback(
    oidc: &Oidc,
    policy: &Arc<str>,
    input: &PolicyInput<'_>,
    now: u64,
) -> Rejection {
    let login = token::cookie(input.headers, &oidc.cookies.login_name)
        .and_then(|sealed| oidc.sealer.open(PURPOSE_LOGIN, sealed))
        .and_then(|json| serde_json::from_slice::<LoginState>(&json).ok())
        .filter(|l| l.expires > now);
    let Some(login) = login else {
        return bad_callback("login_state_missing");
    };
    let state = query_param(input.query, "state").unwrap_or_default();
    if !same(state.as_bytes(), login.state.as_bytes()) {
        return bad_callback("state_mismatch");
    }
    if query_param(input.query, "error").is_some() {
        return crate::policy::authn::oidc::unauthorized(policy, "login_refused");
    }
    let Some(code) = query_param(input.query, "code").filter(|c| !c.is_empty()) else {
        return bad_callback("code_missing");
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", oidc.spec.redirect_uri.as_str()),
        ("code_verifier", login.verifier.as_str()),
    ];
    let answer = match oidc.provider.token(&form).await {
        Ok(a) => a,
        Err(super::provider::TokenError::Unavailable) => return unavailable(policy),
        Err(super::provider::TokenError::Refused) => {
            return crate::policy::authn::oidc::unauthorized(policy, "code_exchange_failed");
        }
    };
    let Some(id_token) = answer.id_token.clone() else {
        return crate::policy::authn::oidc::unauthorized(policy, "id_token_missing");
    };
    let claims = match oidc
        .provider
        .verify_id_token(&id_token, Some(&login.nonce), now)
        .await
    {
        Ok(c) => c,
        Err(reason) => return crate::policy::authn::oidc::unauthorized(policy, reason),
    };
    let session = oidc.new_session(policy, claims, id_token, answer, now);
    let Some(id) = oidc.sealer.random::<16>() else {
        return unavailable(policy);
    };
    let Some(sealed) = oidc.sealer.seal(PURPOSE_SESSION, &id) else {
        return unavailable(policy);
    };
    let expires = session.expires;
    oidc.store.put(&id, Arc::new(session), expires, now);
    let mut cookies = Vec::with_capacity(2);
    cookies.extend(oidc.cookies.set(
        &oidc.cookies.session_name,
        &sealed,
        expires.saturating_sub(now),
    ));
    cookies.extend(oidc.cookies.clear(&oidc.cookies.login_name));
    let location = HeaderValue::from_str(&login.return_to).unwrap_or(HeaderValue::from_static("/"));
    Rejection::PolicyRedirect {
        policy: Arc::clone(policy),
        reason: "login_completed",
        location,
        cookies,
    }
}

/// Builds the session a token answer stands for.
pub fn session_from(
    policy: &Arc<str>,
    roles_claim: &str,
    claims: serde_json::Value,
    id_token: String,
    answer: super::provider::TokenAnswer,
    now: u64,
    ttl: u64,
) -> Session {
    let mut principal = crate::policy::authn::jwt::principal(policy, roles_claim, claims, None);
    principal.method = AuthMethod::Oidc;
    if let Some(scope) = &answer.scope {
        principal.scopes = scope.split_whitespace().map(str::to_owned).collect();
    }
    let access_expires = now + answer.expires_in.unwrap_or(300);
    let mut expires = now + ttl;
    if answer.refresh_token.is_none() {
        expires = expires.min(access_expires);
    }
    Session {
        principal: Arc::new(principal),
        id_token,
        access_token: answer.access_token,
        refresh_token: answer.refresh_token,
        access_expires,
        expires,
        refresh_lock: tokio::sync::Mutex::new(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_and_comparison() {
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
        assert_eq!(
            query_param(Some("code=x%3D&state=s"), "code").as_deref(),
            Some("x=")
        );
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }

    #[test]
    fn return_urls_stay_on_this_host() {
        let headers = http::HeaderMap::new();
        let method = http::Method::GET;
        let at = |path: &'static str, query: Option<&'static str>| {
            let input = PolicyInput {
                client_ip: crate::listener::client_ip::ClientIp::from_trusted_source(
                    std::net::Ipv4Addr::LOCALHOST.into(),
                ),
                client_cert: None,
                method: &method,
                host: "h",
                path,
                query,
                target: "/",
                version: http::Version::HTTP_11,
                headers: &headers,
                route: "r",
                principal: None,
            };
            return_to(&input)
        };
        assert_eq!(at("/a/b", Some("x=1")), "/a/b?x=1");
        assert_eq!(at("//evil.example", None), "/");
        assert_eq!(at("/\\evil.example", None), "/");
        assert_eq!(at("relative", None), "/");
    }

    #[test]
    fn navigation_detection() {
        let method = http::Method::GET;
        let check = |pairs: &[(&'static str, &'static str)], method: &http::Method| {
            let mut headers = http::HeaderMap::new();
            for (k, v) in pairs {
                headers.append(*k, HeaderValue::from_static(v));
            }
            let input = PolicyInput {
                client_ip: crate::listener::client_ip::ClientIp::from_trusted_source(
                    std::net::Ipv4Addr::LOCALHOST.into(),
                ),
                client_cert: None,
                method,
                host: "h",
                path: "/",
                query: None,
                target: "/",
                version: http::Version::HTTP_11,
                headers: &headers,
                route: "r",
                principal: None,
            };
            is_navigation(&input)
        };
        assert!(check(
            &[("accept", "text/html,application/xhtml+xml")],
            &method
        ));
        assert!(check(&[("sec-fetch-mode", "navigate")], &method));
        assert!(!check(&[("accept", "application/json")], &method));
        assert!(!check(&[("x-requested-with", "XMLHttpRequest")], &method));
        assert!(!check(&[("sec-fetch-mode", "cors")], &method));
        assert!(!check(&[], &http::Method::POST));
    }
}
