//! The `jwt` policy against tokens minted here: ES256 and RS256 (the RSA
//! test key in tests/fixtures), the registered claims, algorithm
//! confusion, malformed input, the cache and header edits.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use serde_json::json;

use super::*;
use crate::config::spec_jwt::JwtSpec;
use crate::listener::client_ip::ClientIp;

const NOW: u64 = 1_900_000_000;
const ISS: &str = "https://idp.test";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Keys {
    ec: EcdsaKeyPair,
    rsa: RsaKeyPair,
    jwks: String,
}

fn keys() -> Keys {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let point = ec.public_key().as_ref();
    let rsa_pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rsa.key"
    ))
    .unwrap();
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&rsa_pem).unwrap();
    let rsa = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
    let (n, e) = (&public.n, &public.e);
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec1", "x": b64(&point[1..33]), "y": b64(&point[33..])},
        {"kty": "RSA", "kid": "rsa1", "n": b64(n), "e": b64(e)},
    ]})
    .to_string();
    Keys { ec, rsa, jwks }
}

fn sign(keys: &Keys, alg: &str, kid: Option<&str>, claims: serde_json::Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let sig = match alg {
        "ES256" => keys
            .ec
            .sign(&rng, input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        "RS256" => {
            let mut sig = vec![0; keys.rsa.public().modulus_len()];
            keys.rsa
                .sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
            sig
        }
        other => panic!("{other}"),
    };
    format!("{input}.{}", b64(&sig))
}

fn claims() -> serde_json::Value {
    json!({"iss": ISS, "sub": "alice", "aud": "api", "exp": NOW + 600, "iat": NOW - 10,
           "roles": ["dev"], "scope": "read write", "org": {"id": "acme"}})
}

fn policy(keys: &Keys, extra: serde_json::Value) -> Jwt {
    let mut spec = json!({
        "providers": [{"name": "idp", "issuer": ISS, "audiences": ["api"],
                       "keys": {"inline": keys.jwks}}],
        "claims_to_headers": [{"claim": "org.id", "header": "x-org"}],
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let spec: JwtSpec = serde_json::from_value(spec).unwrap();
    Jwt::compile(&spec).unwrap()
}

async fn run(jwt: &Jwt, token: Option<&str>) -> (Outcome, RequestContext) {
    let mut headers = http::HeaderMap::new();
    if let Some(t) = token {
        headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    headers.insert("x-org", "spoofed".parse().unwrap());
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source("127.0.0.1".parse().unwrap()),
        client_cert: None,
        method: &http::Method::GET,
        host: "h",
        path: "/",
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        principal: None,
    };
    let mut ctx = RequestContext::default();
    let outcome = jwt
        .authenticate(&Arc::from("jwt"), &input, &mut ctx, NOW)
        .await;
    (outcome, ctx)
}

fn failed(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Failed(r) => Some(r),
        _ => None,
    }
}

#[tokio::test]
async fn valid_tokens_become_principals_with_claim_headers() {
    let k = keys();
    let jwt = policy(&k, json!({}));
    for (alg, kid) in [
        ("ES256", Some("ec1")),
        ("RS256", Some("rsa1")),
        ("ES256", None),
    ] {
        let token = sign(&k, alg, kid, claims());
        let (outcome, ctx) = run(&jwt, Some(&token)).await;
        let Outcome::Authenticated(p) = outcome else {
            panic!("{alg} {kid:?}: {outcome:?}");
        };
        assert_eq!(p.subject, "alice");
        assert_eq!(p.roles, vec!["dev"]);
        assert_eq!(p.scopes, vec!["read", "write"]);
        assert_eq!(p.issuer.as_deref(), Some(ISS));
        let mut upstream = http::HeaderMap::new();
        upstream.insert("x-org", "spoofed".parse().unwrap());
        ctx.upstream_headers.apply(&mut upstream);
        assert_eq!(upstream["x-org"], "acme");
    }
}

#[tokio::test]
async fn registered_claims_are_enforced() {
    let k = keys();
    let jwt = policy(&k, json!({}));
    let cases = [
        (json!({"exp": NOW - 100}), "token_expired"),
        (json!({"nbf": NOW + 3600}), "token_not_yet_valid"),
        (json!({"aud": "other"}), "audience_mismatch"),
        (json!({"iss": "https://evil.test"}), "unknown_issuer"),
        (json!({"exp": "never"}), "invalid_token"),
    ];
    for (patch, reason) in cases {
        let mut c = claims();
        for (key, value) in patch.as_object().unwrap() {
            c[key] = value.clone();
        }
        let token = sign(&k, "ES256", Some("ec1"), c);
        let (outcome, _) = run(&jwt, Some(&token)).await;
        assert_eq!(failed(&outcome), Some(reason), "{patch}");
    }
}

#[tokio::test]
async fn forged_and_malformed_tokens_fail() {
    let k = keys();
    let jwt = policy(&k, json!({}));
    let good = sign(&k, "ES256", Some("ec1"), claims());
    let (h, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut evil = claims();
    evil["sub"] = json!("admin");
    let tampered = format!("{h}.{}.{sig}", b64(evil.to_string().as_bytes()));
    // HS256 "signed" with the RSA key's public modulus as the secret.
    let confusion = {
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","kid":"rsa1"}"#),
            b64(claims().to_string().as_bytes())
        );
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = k.rsa.public().into();
        let secret = public.n;
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(tag.as_ref()))
    };
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims().to_string().as_bytes())
    );
    let traversal = sign(&k, "ES256", Some("../../etc/passwd"), claims());
    let huge = "a".repeat(10_000);
    let cases: [(&str, &str); 8] = [
        (&tampered, "bad_signature"),
        (&confusion, "unsupported_algorithm"),
        (&none, "unsupported_algorithm"),
        ("not-a-token", "malformed_token"),
        ("a.b.c.d.e", "malformed_token"),
        ("e30.e30.e30", "unsupported_algorithm"),
        (&traversal, "unknown_kid"),
        (&huge, "token_too_large"),
    ];
    for (token, reason) in cases {
        let (outcome, _) = run(&jwt, Some(token)).await;
        assert_eq!(
            failed(&outcome),
            Some(reason),
            "{}",
            &token[..token.len().min(40)]
        );
    }
    let (outcome, _) = run(&jwt, None).await;
    assert_eq!(failed(&outcome), Some("token_missing"));
}

#[tokio::test]
async fn optional_strip_and_cache() {
    let k = keys();
    let jwt = policy(&k, json!({"optional": true, "strip_token": true}));
    let (outcome, ctx) = run(&jwt, None).await;
    assert_eq!(outcome, Outcome::Anonymous);
    let mut upstream = http::HeaderMap::new();
    upstream.insert("x-org", "spoofed".parse().unwrap());
    ctx.upstream_headers.apply(&mut upstream);
    assert!(
        !upstream.contains_key("x-org"),
        "a spoofed claim header is removed"
    );
    let token = sign(&k, "ES256", Some("ec1"), claims());
    let (first, ctx) = run(&jwt, Some(&token)).await;
    assert!(matches!(first, Outcome::Authenticated(_)));
    let mut upstream = http::HeaderMap::new();
    upstream.insert("authorization", "Bearer x".parse().unwrap());
    ctx.upstream_headers.apply(&mut upstream);
    assert!(!upstream.contains_key("authorization"), "token stripped");
    let (second, _) = run(&jwt, Some(&token)).await;
    assert_eq!(first, second);
    assert_eq!(jwt.counters.verified.load(Ordering::Relaxed), 1);
    assert_eq!(jwt.counters.cached.load(Ordering::Relaxed), 1);
    // A bad token still fails in optional mode.
    let (outcome, _) = run(&jwt, Some("a.b.c")).await;
    assert_eq!(failed(&outcome), Some("malformed_token"));
}
