//! JWT authentication and authorization against the real binary, with a
//! real JWKS endpoint the test rotates and takes down: claims reach the
//! backend as headers, refused tokens never reach it, a rotated key is
//! accepted on its first request, a down IdP does not stop known keys, and
//! authorization answers 401/403 with the rule in the access log.

mod common;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::idp::{JwksServer, SigningKey, jwks, now};
use common::*;
use http::Request;
use http_body_util::Full;

const ISS: &str = "https://issuer.test";

fn config(jwks_addr: std::net::SocketAddr, upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
policies:
  - name: bearer
    jwt:
      providers:
        - name: test
          issuer: {ISS}
          audiences: [api]
          algorithms: [ES256]
          keys: {{ jwks_uri: "http://{jwks_addr}/jwks.json", insecure_http: true, refresh: 1h }}
      claims_to_headers: [{{ claim: sub, header: x-user }}, {{ claim: tenant.id, header: x-tenant }}]
      strip_token: true
  - name: rules
    authz:
      rules:
        - {{ name: admins, action: allow, roles: [admin] }}
        - {{ name: no-writes, action: deny, methods: [POST, PUT, DELETE] }}
        - {{ name: readers, action: allow, scopes: [read], cel: "principal.claims.tenant.id == 'acme'" }}
routes:
  - name: api
    match: {{ path: {{ prefix: /api }} }}
    policies: [bearer]
    backend: app
  - name: admin
    match: {{ path: {{ prefix: /admin }} }}
    policies: [bearer, rules]
    backend: app
"#
    )
}

fn claims(sub: &str, roles: &[&str], scope: &str) -> serde_json::Value {
    serde_json::json!({"iss": ISS, "aud": "api", "sub": sub, "exp": now() + 600,
        "iat": now(), "roles": roles, "scope": scope, "tenant": {"id": "acme"},
        "jti": format!("{sub}-{}", fastrand::u64(..))})
}

fn request(method: &str, path: &str, token: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "example.com")
        .header("x-user", "spoofed");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_claims_and_refusals() {
    let key = SigningKey::generate("k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(idp.addr, upstream.addr));
    let addr = gw.addr("web");

    let ok = send(
        addr,
        request(
            "GET",
            "/api/x",
            Some(&key.sign(&claims("alice", &[], "read"))),
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seen = upstream.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        last.headers["x-user"], "alice",
        "claim header replaces the client's"
    );
    assert_eq!(last.headers["x-tenant"], "acme");
    assert!(
        !last.headers.contains_key("authorization"),
        "token stripped"
    );

    let missing = send(addr, request("GET", "/api/x", None)).await;
    assert_eq!(missing.status, 401);
    assert!(
        missing.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );

    let mut expired = claims("bob", &[], "read");
    expired["exp"] = serde_json::json!(now() - 3600);
    let mut wrong_aud = claims("bob", &[], "read");
    wrong_aud["aud"] = serde_json::json!("other");
    let other_key = SigningKey::generate("k1");
    let forged = other_key.sign(&claims("mallory", &["admin"], "read"));
    let cases = [
        (key.sign(&expired), "token_expired"),
        (key.sign(&wrong_aud), "audience_mismatch"),
        (forged, "bad_signature"),
        (
            "eyJhbGciOiJub25lIn0.e30.".to_owned(),
            "unsupported_algorithm",
        ),
        ("a.b".to_owned(), "malformed_token"),
    ];
    let before = upstream.count();
    for (token, reason) in &cases {
        let r = send(addr, request("GET", "/api/x", Some(token))).await;
        assert_eq!(r.status, 401, "{reason}");
        let challenge = r.headers["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert!(challenge.contains(reason), "{challenge}");
    }
    assert_eq!(
        upstream.count(),
        before,
        "refused requests never reach the backend"
    );
    let lines = gw.wait_access_lines(2 + cases.len());
    for (_, reason) in &cases {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("\"reason\":\"{reason}\""))),
            "{reason} logged"
        );
    }
    let alice_line = lines
        .iter()
        .find(|l| l.contains("\"subject\":\"alice\""))
        .expect("principal logged");
    assert!(alice_line.contains("\"auth_method\":\"jwt\""));
    assert!(
        !lines.iter().any(|l| l.contains("eyJ")),
        "no token in the access log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_fetched_at_once_and_a_down_idp_keeps_known_keys() {
    let old = SigningKey::generate("old");
    let idp = JwksServer::start(jwks(&[&old])).await;
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(idp.addr, upstream.addr));
    let addr = gw.addr("web");
    let r = send(
        addr,
        request("GET", "/api/1", Some(&old.sign(&claims("a", &[], "")))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The IdP rotates: the first request with the new key is accepted.
    let new = SigningKey::generate("new");
    idp.set(jwks(&[&old, &new]));
    let r = send(
        addr,
        request("GET", "/api/2", Some(&new.sign(&claims("b", &[], "")))),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "new kid accepted within one request: {}",
        r.body
    );

    // The IdP goes down: known keys keep verifying (fresh tokens, no cache).
    idp.down.store(true, Ordering::SeqCst);
    for i in 0..3 {
        let token = new.sign(&claims(&format!("c{i}"), &[], ""));
        let r = send(addr, request("GET", "/api/3", Some(&token))).await;
        assert_eq!(r.status, 200, "last good key set kept: {}", r.body);
    }
    // An unknown kid while the IdP is down is refused, not waited on.
    let unknown = SigningKey::generate("unknown");
    let r = send(
        addr,
        request("GET", "/api/4", Some(&unknown.sign(&claims("d", &[], "")))),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("unknown_kid")
    );
    assert!(
        idp.fetches.load(Ordering::SeqCst) <= 3,
        "refetches are rate-limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_rules_first_match_default_deny() {
    let key = SigningKey::generate("k");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(idp.addr, upstream.addr));
    let addr = gw.addr("web");
    let admin = key.sign(&claims("root", &["admin"], ""));
    let reader = key.sign(&claims("ann", &[], "read"));
    let nobody = key.sign(&claims("nob", &[], "write"));

    assert_eq!(
        send(addr, request("DELETE", "/admin/x", Some(&admin)))
            .await
            .status,
        200
    );
    assert_eq!(
        send(addr, request("GET", "/admin/x", Some(&reader)))
            .await
            .status,
        200
    );
    let denied = send(addr, request("POST", "/admin/x", Some(&reader))).await;
    assert_eq!(denied.status, 403);
    let default = send(addr, request("GET", "/admin/x", Some(&nobody))).await;
    assert_eq!(default.status, 403);
    let lines = gw.wait_access_lines(4);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"reason\":\"authz_denied\"")
                && l.contains("\"rule\":\"no-writes\""))
    );
    assert!(lines.iter().any(|l| l.contains("\"rule\":\"default\"")));
}
