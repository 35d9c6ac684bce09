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

async fn scrape(gw: &Gateway) -> prom::Exposition {
    let reply = get(gw.admin, "/metrics").await;
    assert_eq!(reply.status, 200);
    prom::parse(&reply.body).unwrap_or_else(|e| panic!("{e}\n{}", reply.body))
}

async fn identity(gw: &Gateway) -> serde_json::Value {
    let reply = get(gw.admin, "/api/identity").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

/// Polls the scrape until `name{labels}` reaches `at_least`.
async fn metric_reaches(gw: &Gateway, name: &str, labels: &[(&str, &str)], at_least: f64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let value = scrape(gw).await.value(name, labels);
        if value >= at_least {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}{labels:?} stayed at {value}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_idp_is_counted_and_shown_until_it_recovers() {
    let key = SigningKey::generate("k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    idp.down.store(true, Ordering::SeqCst);
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(idp.addr, upstream.addr));
    let addr = gw.addr("web");

    // The warm-up fetch at load fails: counted, timed, and shown.
    let failed = [
        ("policy", "bearer"),
        ("fetch", "jwks"),
        ("result", "http_error"),
    ];
    metric_reaches(&gw, "portcullis_identity_fetches_total", &failed, 1.0).await;
    let doc = identity(&gw).await;
    let bearer = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bearer")
        .unwrap_or_else(|| panic!("{doc}"))
        .clone();
    assert_eq!(bearer["kind"], "jwt");
    let provider = &bearer["providers"][0];
    assert_eq!(provider["issuer"], ISS);
    assert_eq!(provider["key_source"]["type"], "jwks_uri");
    assert_eq!(provider["keys"], serde_json::json!([]), "{provider}");
    assert!(provider["fetched_at"].is_null());
    assert!(
        provider["last_error"]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 503"),
        "{provider}"
    );

    // It comes back: the first token's unknown kid fetches at once.
    idp.down.store(false, Ordering::SeqCst);
    let token = key.sign(&claims("alice", &[], "read"));
    let r = send(addr, request("GET", "/api/x", Some(&token))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = identity(&gw).await;
    let provider = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bearer")
        .map(|p| p["providers"][0].clone())
        .unwrap();
    assert_eq!(
        provider["keys"],
        serde_json::json!([{"kid": "k1", "kty": "EC", "crv": "P-256", "bits": null, "alg": "ES256"}]),
        "{provider}"
    );
    assert!(provider["last_error"].is_null(), "{provider}");
    assert!(provider["since_last_fetch_s"].as_f64().unwrap() < 60.0);
    assert!(provider["fetched_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        !doc.to_string().contains("\"x\":"),
        "no key material in the answer"
    );

    let metrics = scrape(&gw).await;
    let ok = [("policy", "bearer"), ("fetch", "jwks"), ("result", "ok")];
    assert_eq!(metrics.value("portcullis_identity_fetches_total", &ok), 1.0);
    assert!(
        metrics.value(
            "portcullis_identity_fetch_duration_seconds_count",
            &[("policy", "bearer"), ("fetch", "jwks")]
        ) >= 2.0
    );
    assert_eq!(
        metrics.types["portcullis_identity_fetch_duration_seconds"],
        "histogram"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_counted_by_policy_and_result() {
    let key = SigningKey::generate("k");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let upstream = Upstream::start("app").await;
    let gw = Gateway::start(&config(idp.addr, upstream.addr));
    let addr = gw.addr("web");

    let reader = key.sign(&claims("ann", &[], "read"));
    let mut expired = claims("bob", &[], "read");
    expired["exp"] = serde_json::json!(now() - 3600);
    let mut wrong_aud = claims("bob", &[], "read");
    wrong_aud["aud"] = serde_json::json!("other");
    let forged = SigningKey::generate("k").sign(&claims("eve", &[], "read"));
    let cases = [
        ("GET", "/api/1", Some(reader.clone()), 200),
        ("GET", "/api/2", Some(reader.clone()), 200),
        ("GET", "/api/3", None, 401),
        ("GET", "/api/4", Some(key.sign(&expired)), 401),
        ("GET", "/api/5", Some(key.sign(&wrong_aud)), 401),
        ("GET", "/api/6", Some(forged), 401),
        ("GET", "/admin/1", Some(reader.clone()), 200),
        ("POST", "/admin/2", Some(reader), 403),
    ];
    for (method, path, token, status) in &cases {
        let r = send(addr, request(method, path, token.as_deref())).await;
        assert_eq!(r.status, *status, "{method} {path}: {}", r.body);
    }
    gw.wait_access_lines(cases.len());

    let m = scrape(&gw).await;
    let jwt = |result| {
        m.value(
            "portcullis_auth_decisions_total",
            &[("policy", "bearer"), ("kind", "jwt"), ("result", result)],
        )
    };
    assert_eq!(jwt("ok"), 4.0, "two /api and two /admin requests");
    assert_eq!(jwt("token_missing"), 1.0);
    assert_eq!(jwt("token_expired"), 1.0);
    assert_eq!(jwt("audience_mismatch"), 1.0);
    assert_eq!(jwt("bad_signature"), 1.0);
    assert_eq!(jwt("anonymous"), 0.0);
    let authz = |result| {
        m.value(
            "portcullis_auth_decisions_total",
            &[("policy", "rules"), ("kind", "authz"), ("result", result)],
        )
    };
    assert_eq!(authz("ok"), 1.0);
    assert_eq!(authz("authz_denied"), 1.0);
    // Labels stay bounded: no subject, token or path in any series.
    for key in m.samples.keys() {
        assert!(
            !key.contains("ann") && !key.contains("eyJ") && !key.contains("/admin"),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_get_the_client_banned_missing_tokens_do_not() {
    let key = SigningKey::generate("k");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let upstream = Upstream::start("app").await;
    let yaml = config(idp.addr, upstream.addr).replace(
        "listeners:",
        "remediation:\n  defaults: false\n  scenarios:\n    - { name: logins, signal: auth_failure, capacity: 3, leak: 1m, ban: [1h] }\nlisteners:",
    );
    let gw = Gateway::start(&yaml);
    let addr = gw.addr("web");
    let good = key.sign(&claims("ann", &[], "read"));

    // A client without a token, many times: not a failed login.
    for _ in 0..6 {
        assert_eq!(
            send_from("127.0.0.8", addr, request("GET", "/api/x", None))
                .await
                .status,
            401
        );
    }
    // Another presents forged tokens: the fourth overflows the bucket.
    let forged = SigningKey::generate("k").sign(&claims("eve", &["admin"], "read"));
    for _ in 0..4 {
        let r = send_from("127.0.0.7", addr, request("GET", "/api/x", Some(&forged))).await;
        assert_eq!(r.status, 401);
    }
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = send_from("127.0.0.7", addr, request("GET", "/api/x", Some(&good))).await;
        if r.status == 403 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(std::time::Instant::now() < deadline, "never banned");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let list = get(gw.admin, "/api/deny-list").await.body;
    assert!(
        list.contains("remediation:logins") && list.contains("127.0.0.7/32"),
        "{list}"
    );
    // Signals are handled in order, so the tokenless client's were seen
    // before the ban: it was not banned.
    let r = send_from("127.0.0.8", addr, request("GET", "/api/x", Some(&good))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!list.contains("127.0.0.8"), "{list}");
}
