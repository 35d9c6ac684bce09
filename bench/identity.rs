//! Criterion benches for issue 8's per-request costs: a `jwt` check served
//! from the verified-token cache, an `authz` decision with a CEL rule, and
//! full ES256 / RS256 verifications (cache off); plus the memory of 100,000
//! cached tokens. Run: `cargo bench --bench identity`.

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::config::spec_authz::AuthzSpec;
use portcullis::config::spec_jwt::JwtSpec;
use portcullis::listener::client_ip::ClientIp;
use portcullis::policy::authn::jwt::Jwt;
use portcullis::policy::authz::Authz;
use portcullis::policy::{PolicyInput, RequestContext};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;

const ISS: &str = "https://idp.bench";

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

struct Keys {
    ec: EcdsaKeyPair,
    rsa: RsaKeyPair,
    jwks: String,
}

fn keys() -> Keys {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("ec key");
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .expect("ec key");
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rsa.key"
    ))
    .expect("rsa key");
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("pkcs8");
    let rsa = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("rsa");
    let point = ec.public_key().as_ref();
    let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
    let jwks = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(&point[1..33]), "y": b64(&point[33..])},
        {"kty": "RSA", "kid": "rsa", "n": b64(&public.n), "e": b64(&public.e)},
    ]})
    .to_string();
    Keys { ec, rsa, jwks }
}

fn token(keys: &Keys, alg: &str, sub: &str) -> String {
    let now = portcullis::policy::authn::unix_now();
    let header = serde_json::json!({"alg": alg, "kid": if alg == "ES256" { "ec" } else { "rsa" }});
    let claims = serde_json::json!({"iss": ISS, "sub": sub, "aud": "api", "exp": now + 3600,
        "roles": ["dev"], "scope": "read", "tenant": "acme"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let sig = if alg == "ES256" {
        keys.ec
            .sign(&rng, input.as_bytes())
            .expect("sign")
            .as_ref()
            .to_vec()
    } else {
        let mut sig = vec![0; keys.rsa.public().modulus_len()];
        keys.rsa
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .expect("sign");
        sig
    };
    format!("{input}.{}", b64(&sig))
}

fn jwt(keys: &Keys, cache_entries: usize) -> Jwt {
    let spec: JwtSpec = serde_json::from_value(serde_json::json!({
        "providers": [{"name": "p", "issuer": ISS, "audiences": ["api"],
                       "algorithms": ["ES256", "RS256"], "keys": {"inline": keys.jwks}}],
        "cache_entries": cache_entries,
    }))
    .expect("spec");
    Jwt::compile(&spec).expect("jwt")
}

fn run(rt: &tokio::runtime::Runtime, jwt: &Jwt, token: &str) -> bool {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source("10.0.0.1".parse().expect("ip")),
        client_cert: None,
        method: &http::Method::GET,
        host: "api.example",
        path: "/v1/items",
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        principal: None,
    };
    let mut ctx = RequestContext::default();
    let policy: Arc<str> = Arc::from("jwt");
    let now = portcullis::policy::authn::unix_now();
    matches!(
        rt.block_on(jwt.authenticate(&policy, &input, &mut ctx, now)),
        portcullis::policy::authn::jwt::Outcome::Authenticated(_)
    )
}

fn identity(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let k = keys();
    let cached = jwt(&k, 200_000);
    let es = token(&k, "ES256", "alice");
    assert!(run(&rt, &cached, &es));
    c.bench_function("jwt from cache (ES256 token)", |b| {
        b.iter(|| black_box(run(&rt, &cached, &es)))
    });
    let uncached = jwt(&k, 0);
    c.bench_function("jwt verify ES256 (cache off)", |b| {
        b.iter(|| black_box(run(&rt, &uncached, &es)))
    });
    let rs = token(&k, "RS256", "alice");
    c.bench_function("jwt verify RS256 (cache off)", |b| {
        b.iter(|| black_box(run(&rt, &uncached, &rs)))
    });

    let authz: AuthzSpec = serde_json::from_value(serde_json::json!({"rules": [
        {"name": "r", "action": "allow", "cel": "principal.claims.tenant == 'acme' && request.method == 'GET'"}
    ]}))
    .expect("authz");
    let authz = Authz::compile(&authz).expect("authz");
    let mut p = portcullis::policy::Principal::new(
        portcullis::policy::principal::AuthMethod::Jwt,
        Arc::from("jwt"),
        "alice",
    );
    p.claims = serde_json::json!({"tenant": "acme", "sub": "alice"});
    let headers = http::HeaderMap::new();
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source("10.0.0.1".parse().expect("ip")),
        client_cert: None,
        method: &http::Method::GET,
        host: "api.example",
        path: "/v1/items",
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        principal: Some(&p),
    };
    c.bench_function("authz decision, one CEL rule", |b| {
        b.iter(|| black_box(authz.decide(&input)))
    });

    // Memory of 100,000 cached tokens (distinct subjects).
    let before = rss_kib();
    for i in 0..100_000 {
        let t = token(&k, "ES256", &format!("user-{i}"));
        run(&rt, &cached, &t);
    }
    let after = rss_kib();
    eprintln!(
        "100,000 cached tokens: RSS +{} KiB ({} bytes per token, principal with claims)",
        after.saturating_sub(before),
        after.saturating_sub(before) * 1024 / 100_000
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

criterion_group!(benches, identity);
criterion_main!(benches);
