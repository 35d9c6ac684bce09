//! The `oidc` policy against a real OpenID Provider (npm `oidc-provider`,
//! started by the test): code + PKCE login driven over HTTP, the sealed
//! server-side session, API calls answered 401, tampered cookies, state
//! mismatch, provider down, refresh (single flight), logout (local and
//! RP-initiated), and bearer-or-session routes.

mod common;
#[path = "support/oidc/harness.rs"]
mod harness;

use std::net::SocketAddr;

use common::{Gateway, Upstream};
use harness::{Browser, OidcProvider, free_port, skip};

const CALLBACK: &str = "/oauth2/callback";
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // base64 of 32 bytes

struct Setup {
    gateway: Gateway,
    upstream: Upstream,
    provider: Option<OidcProvider>,
    web: SocketAddr,
}

fn config(
    web_port: u16,
    idp_port: u16,
    upstream: SocketAddr,
    extra: &str,
    route_policies: &str,
) -> String {
    format!(
        r#"
admin: {{ address: "127.0.0.1:0" }}
listeners:
  - name: web
    address: 127.0.0.1:{web_port}
routes:
  - name: app
    match: {{ path: {{ prefix: / }} }}
    policies: {route_policies}
    backend: app
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
policies:
  - name: login
    oidc:
      issuer: http://127.0.0.1:{idp_port}
      client_id: gateway
      client_secret: gateway-secret
      redirect_uri: http://127.0.0.1:{web_port}{CALLBACK}
      post_logout_redirect_uri: http://127.0.0.1:{web_port}/bye
      scopes: [openid, profile, email]
      insecure_http: true
      cookie: {{ secure: true }}
      session_keys:
        - {{ id: k1, secret: "{KEY}" }}
      claims_to_headers:
        - {{ claim: sub, header: x-user }}
        - {{ claim: email, header: x-email }}
      forward:
        access_token_header: authorization
        id_token_header: x-id-token
{extra}
"#
    )
}

async fn setup(
    provider_env: &[(&str, &str)],
    oidc_extra: &str,
    route_policies: &str,
    start_idp: bool,
) -> Setup {
    let upstream = Upstream::start("app").await;
    let (web_port, idp_port) = (free_port(), free_port());
    let web = SocketAddr::from(([127, 0, 0, 1], web_port));
    let provider = start_idp.then(|| {
        OidcProvider::start(
            idp_port,
            &format!("http://{web}{CALLBACK}"),
            &format!("http://{web}/bye"),
            provider_env,
        )
    });
    let gateway = Gateway::start(&config(
        web_port,
        idp_port,
        upstream.addr,
        oidc_extra,
        route_policies,
    ));
    Setup {
        gateway,
        upstream,
        provider,
        web,
    }
}

/// Logs the browser in from `/app/page?x=1`; returns the final answer.
async fn login(browser: &mut Browser, web: SocketAddr) -> common::Reply {
    let first = browser.request(web, "/app/page?x=1", &[]).await;
    assert_eq!(first.status, 302, "{}", first.body);
    let to_idp = first.headers["location"].to_str().unwrap().to_owned();
    assert!(to_idp.contains("code_challenge_method=S256"), "{to_idp}");
    assert!(
        to_idp.contains("nonce=") && to_idp.contains("state="),
        "{to_idp}"
    );
    let login_cookie = first.headers["set-cookie"].to_str().unwrap();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    // Through the provider's (auto-approved) interaction, back to the callback.
    let (callback, _) = browser.follow(&to_idp, |u| u.contains(CALLBACK)).await;
    let done = browser.get(&callback).await;
    assert_eq!(done.status, 302, "callback: {}", done.body);
    assert_eq!(done.headers["location"], "/app/page?x=1");
    browser.request(web, "/app/page?x=1", &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn login_session_headers_and_cookie_hygiene() {
    if skip("login_session_headers_and_cookie_hygiene") {
        return;
    }
    let s = setup(&[], "", "[login]", true).await;
    let mut browser = Browser::default();
    browser.set_cookie(s.web, "theme", "dark");
    let reply = login(&mut browser, s.web).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let session = browser
        .cookie(s.web, "portcullis_session")
        .expect("session cookie");
    // 300 long group names live on the server, not in the cookie.
    assert!(session.len() < 200, "cookie is {} bytes", session.len());
    let seen = s.upstream.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.headers["x-user"], "alice");
    assert_eq!(last.headers["x-email"], "alice@example.com");
    assert!(
        last.headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert_eq!(
        last.headers["x-id-token"]
            .to_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    // The session cookie never reaches the backend; other cookies do.
    let cookie = last.headers["cookie"].to_str().unwrap();
    assert_eq!(cookie, "theme=dark", "{cookie}");
    assert_eq!(
        s.upstream.count(),
        1,
        "only the logged-in request reached the backend"
    );

    // Client-sent copies of the injected headers are replaced.
    let spoof = browser.request(s.web, "/x", &[("x-user", "mallory")]).await;
    assert_eq!(spoof.status, 200);
    assert_eq!(s.upstream.seen().last().unwrap().headers["x-user"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_calls_get_401_and_bad_cookies_are_no_session() {
    if skip("api_calls_get_401_and_bad_cookies_are_no_session") {
        return;
    }
    let s = setup(&[], "", "[login]", true).await;
    let mut anon = Browser::default();
    for headers in [
        vec![("accept", "application/json")],
        vec![("x-requested-with", "XMLHttpRequest")],
        vec![("sec-fetch-mode", "cors")],
    ] {
        let r = anon.request(s.web, "/api", &headers).await;
        assert_eq!(r.status, 401, "{headers:?}");
        assert!(r.headers.contains_key("www-authenticate"));
    }
    // A logged-in browser whose cookie is tampered with has no session.
    let mut browser = Browser::default();
    assert_eq!(login(&mut browser, s.web).await.status, 200);
    let good = browser.cookie(s.web, "portcullis_session").unwrap();
    let mut bytes = good.clone().into_bytes();
    let i = bytes.len() - 3;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(bytes).unwrap(),
        "k1.AAAA".into(),
        "garbage".into(),
        "k9.".into(),
    ] {
        browser.set_cookie(s.web, "portcullis_session", &bad);
        let r = browser
            .request(s.web, "/api", &[("accept", "application/json")])
            .await;
        assert_eq!(r.status, 401, "cookie {bad:?}");
        let nav = browser.request(s.web, "/page", &[]).await;
        assert_eq!(nav.status, 302, "a navigation is sent to login");
    }
    assert_eq!(
        s.upstream.count(),
        1,
        "nothing but the logged-in request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_state_mismatch_and_missing_login_state_are_400() {
    if skip("callback_state_mismatch_and_missing_login_state_are_400") {
        return;
    }
    let s = setup(&[], "", "[login]", true).await;
    let mut browser = Browser::default();
    let first = browser.request(s.web, "/", &[]).await;
    let to_idp = first.headers["location"].to_str().unwrap().to_owned();
    let (callback, _) = browser.follow(&to_idp, |u| u.contains(CALLBACK)).await;
    // A forged state (login CSRF) is refused.
    let state = callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let forged = callback.replace(state, "forged-state");
    assert_eq!(browser.get(&forged).await.status, 400);
    // The same callback from another browser (no login cookie) is refused.
    let mut other = Browser::default();
    assert_eq!(other.get(&callback).await.status, 400);
    // The genuine one still completes.
    assert_eq!(browser.get(&callback).await.status, 302);
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_down_is_a_clear_503() {
    if skip("provider_down_is_a_clear_503") {
        return;
    }
    let s = setup(&[], "", "[login]", false).await;
    let mut browser = Browser::default();
    let r = browser.request(s.web, "/", &[]).await;
    assert_eq!(r.status, 503);
    assert!(
        r.body.contains("sign-in service is unavailable"),
        "{}",
        r.body
    );
    assert_eq!(s.upstream.count(), 0);
    drop(s.gateway);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_is_single_flight_per_session() {
    if skip("refresh_is_single_flight_per_session") {
        return;
    }
    // Access tokens live 60 s and refresh_before is 1 h: every request is due.
    let s = setup(
        &[("ACCESS_TOKEN_TTL", "60"), ("REFRESH_DELAY_MS", "300")],
        "      refresh_before: 1h\n",
        "[login]",
        true,
    )
    .await;
    let provider = s.provider.as_ref().unwrap();
    let mut browser = Browser::default();
    let first = login(&mut browser, s.web).await;
    assert_eq!(first.status, 200);
    // The request right after login already refreshed (due at once).
    let before = provider.count("refresh_token");
    assert!(before >= 1, "no refresh grant seen");
    let token_before = s.upstream.seen().last().unwrap().headers["authorization"].clone();
    let cookie = format!(
        "portcullis_session={}",
        browser.cookie(s.web, "portcullis_session").unwrap()
    );
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let cookie = cookie.clone();
        let web = s.web;
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get("/concurrent")
                .header("host", web.to_string())
                .header("cookie", cookie)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            common::send(web, req).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let after = provider.wait_count("refresh_token", before + 1);
    assert_eq!(
        after - before,
        1,
        "five concurrent requests share one refresh"
    );
    let token_after = s.upstream.seen().last().unwrap().headers["authorization"].clone();
    assert_ne!(
        token_before, token_after,
        "the backend gets the refreshed access token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_and_logs_out_at_the_provider() {
    if skip("logout_ends_the_session_and_logs_out_at_the_provider") {
        return;
    }
    let s = setup(&[], "", "[login]", true).await;
    let mut browser = Browser::default();
    assert_eq!(login(&mut browser, s.web).await.status, 200);
    let cookie = browser.cookie(s.web, "portcullis_session").unwrap();
    let out = browser.request(s.web, "/oauth2/logout", &[]).await;
    assert_eq!(out.status, 302);
    let location = out.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!(
            "http://127.0.0.1:{}/session/end?",
            s.provider.as_ref().unwrap().port
        )),
        "{location}"
    );
    assert!(location.contains("id_token_hint=") && location.contains("post_logout_redirect_uri="));
    assert!(
        browser.cookie(s.web, "portcullis_session").is_none(),
        "cookie cleared"
    );
    // The provider accepts the hint (its logout confirmation page).
    let end = browser.get(&location).await;
    assert_eq!(end.status, 200, "{}", end.body);
    // The old cookie no longer opens a session on the server.
    browser.set_cookie(s.web, "portcullis_session", &cookie);
    let again = browser
        .request(s.web, "/api", &[("accept", "application/json")])
        .await;
    assert_eq!(again.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_accepts_a_bearer_token_or_a_session() {
    if skip("a_route_accepts_a_bearer_token_or_a_session") {
        return;
    }
    let upstream = Upstream::start("app").await;
    let (web_port, idp_port) = (free_port(), free_port());
    let web = SocketAddr::from(([127, 0, 0, 1], web_port));
    let _provider = OidcProvider::start(
        idp_port,
        &format!("http://{web}{CALLBACK}"),
        &format!("http://{web}/bye"),
        &[],
    );
    let bearer = format!(
        r#"
  - name: bearer
    jwt:
      optional: true
      max_token_bytes: 65536
      providers:
        - name: idp
          issuer: http://127.0.0.1:{idp_port}
          audiences: [gateway]
          keys: {{ discovery: "http://127.0.0.1:{idp_port}", insecure_http: true }}
"#
    );
    let yaml = config(web_port, idp_port, upstream.addr, "", "[bearer, login]") + &bearer;
    let _gateway = Gateway::start(&yaml);
    // Get an ID token through a browser login, then use it as a bearer token.
    let mut browser = Browser::default();
    assert_eq!(login(&mut browser, web).await.status, 200);
    let id_token = upstream.seen().last().unwrap().headers["x-id-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut api = Browser::default();
    let auth = format!("Bearer {id_token}");
    let r = api
        .request(
            web,
            "/api",
            &[("accept", "application/json"), ("authorization", &auth)],
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "{} {:?}",
        r.body,
        r.headers.get("www-authenticate")
    );
    // A bad bearer token fails even though a session could have been used.
    let r = api
        .request(
            web,
            "/api",
            &[
                ("accept", "application/json"),
                ("authorization", "Bearer a.b.c"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
}
