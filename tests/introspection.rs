//! The `introspection` policy against a real authorization server (npm
//! `oidc-provider`, started by the test): opaque client-credentials tokens
//! checked with client_secret_basic and client_secret_post, inactive
//! tokens refused (401, `introspection_inactive`), the endpoint down
//! failing closed (503) or open when configured.

mod common;
#[path = "support/oidc/harness.rs"]
mod harness;

use std::net::SocketAddr;

use common::{Gateway, Upstream};
use harness::{Browser, OidcProvider, free_port, skip};

fn config(idp_port: u16, upstream: SocketAddr, client: &str, extra: &str) -> String {
    let (method, secret) = match client {
        "rs-post" => ("client_secret_post", "rs-post-secret"),
        _ => ("client_secret_basic", "rs-basic-secret"),
    };
    format!(
        r#"
admin: {{ address: "127.0.0.1:0" }}
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: api
    match: {{ path: {{ prefix: / }} }}
    policies: [opaque]
    backend: api
backends:
  - name: api
    endpoints: [{{ address: "{upstream}" }}]
policies:
  - name: opaque
    introspection:
      endpoint: http://127.0.0.1:{idp_port}/token/introspection
      client_id: {client}
      client_secret: {secret}
      auth_method: {method}
      insecure_http: true
      cache_ttl: 30s
      strip_token: true
      claims_to_headers:
        - {{ claim: client_id, header: x-client }}
        - {{ claim: scope, header: x-scope }}
{extra}
"#
    )
}

async fn call(web: SocketAddr, token: &str) -> common::Reply {
    let mut api = Browser::default();
    let auth = format!("Bearer {token}");
    api.request(
        web,
        "/data",
        &[("accept", "application/json"), ("authorization", &auth)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn active_tokens_pass_with_basic_and_post_client_auth() {
    if skip("active_tokens_pass_with_basic_and_post_client_auth") {
        return;
    }
    let idp_port = free_port();
    let provider = OidcProvider::start(
        idp_port,
        "http://127.0.0.1:1/cb",
        "http://127.0.0.1:1/",
        &[],
    );
    for client in ["rs-basic", "rs-post"] {
        let upstream = Upstream::start("api").await;
        let gateway = Gateway::start(&config(idp_port, upstream.addr, client, ""));
        let web = gateway.addr("web");
        let token = provider.client_token("rs-basic", "rs-basic-secret").await;
        let r = call(web, &token).await;
        assert_eq!(
            r.status,
            200,
            "{client}: {} {:?}",
            r.body,
            r.headers.get("www-authenticate")
        );
        let seen = upstream.seen();
        let last = seen.last().unwrap();
        assert_eq!(last.headers["x-client"], "rs-basic");
        assert_eq!(last.headers["x-scope"], "api");
        assert!(!last.headers.contains_key("authorization"), "strip_token");
        // Cached: a second call passes too (and the answer is the same).
        assert_eq!(call(web, &token).await.status, 200);

        // Unknown and garbage tokens are inactive: 401, nothing upstream.
        let before = upstream.count();
        for bad in ["not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let r = call(web, bad).await;
            assert_eq!(r.status, 401, "{bad}");
            let challenge = r.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("introspection_inactive"), "{challenge}");
        }
        let missing = Browser::default()
            .request(web, "/data", &[("accept", "application/json")])
            .await;
        assert_eq!(missing.status, 401);
        assert_eq!(upstream.count(), before);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_down_fails_closed_unless_fail_open() {
    if skip("endpoint_down_fails_closed_unless_fail_open") {
        return;
    }
    // Nothing listens on this port.
    let dead_port = free_port();
    let upstream = Upstream::start("api").await;
    let gateway = Gateway::start(&config(dead_port, upstream.addr, "rs-basic", ""));
    let r = call(gateway.addr("web"), "some-token").await;
    assert_eq!(r.status, 503);
    assert_eq!(upstream.count(), 0);
    drop(gateway);

    let open = Gateway::start(&config(
        dead_port,
        upstream.addr,
        "rs-basic",
        "      fail_open: true\n",
    ));
    let r = call(open.addr("web"), "some-token").await;
    assert_eq!(r.status, 200, "fail_open lets the request through");
    assert!(
        !upstream
            .seen()
            .last()
            .unwrap()
            .headers
            .contains_key("x-client")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_client_secret_fails_closed() {
    if skip("wrong_client_secret_fails_closed") {
        return;
    }
    let idp_port = free_port();
    let provider = OidcProvider::start(
        idp_port,
        "http://127.0.0.1:1/cb",
        "http://127.0.0.1:1/",
        &[],
    );
    let upstream = Upstream::start("api").await;
    let yaml = config(idp_port, upstream.addr, "rs-basic", "").replace("rs-basic-secret", "wrong");
    let gateway = Gateway::start(&yaml);
    let token = provider.client_token("rs-basic", "rs-basic-secret").await;
    let r = call(gateway.addr("web"), &token).await;
    assert_eq!(
        r.status, 503,
        "the endpoint refuses the gateway: fail closed"
    );
    assert_eq!(upstream.count(), 0);
}
