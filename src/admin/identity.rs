//! `GET /api/identity`: the identity providers the running config uses and
//! what the gateway currently knows of them — per `jwt` provider its key
//! source and key set (key id, type, algorithm; never key material), the
//! age of the last successful fetch and the last error; for `oidc` the
//! discovery state and key set; for `introspection` the endpoint and the
//! outcome counts.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::config::compile::Snapshot;
use crate::policy::PolicyKind;
use crate::policy::authn::jwt::jwk::{Jwk, KeyMaterial};
use crate::policy::authn::jwt::keys::{FetchFailure, ProviderKeys};

/// The document, policies sorted by name.
pub fn identity(snapshot: &Snapshot) -> Value {
    let mut policies: Vec<(&String, Value)> = snapshot
        .policies
        .iter()
        .filter_map(|(name, policy)| Some((name, describe(name, &policy.kind)?)))
        .collect();
    policies.sort_by(|a, b| a.0.cmp(b.0));
    json!({"policies": policies.into_iter().map(|(_, v)| v).collect::<Vec<_>>()})
}

fn describe(name: &str, kind: &PolicyKind) -> Option<Value> {
    Some(match kind {
        PolicyKind::Jwt(jwt) => {
            let providers: Vec<Value> = jwt
                .providers
                .iter()
                .map(|p| {
                    let mut v = key_set(&p.keys);
                    v["name"] = json!(p.name);
                    v["issuer"] = json!(p.issuer);
                    v
                })
                .collect();
            let c = &jwt.counters;
            json!({
                "name": name,
                "kind": "jwt",
                "providers": providers,
                "tokens": {
                    "verified": c.verified.load(Ordering::Relaxed),
                    "cached": c.cached.load(Ordering::Relaxed),
                    "anonymous": c.anonymous.load(Ordering::Relaxed),
                    "failed": c.failed.load(Ordering::Relaxed),
                },
            })
        }
        PolicyKind::Oidc(oidc) => {
            let provider = &oidc.provider;
            let discovery = match provider.discovered() {
                Some(doc) => json!({
                    "state": "discovered",
                    "authorization_endpoint": doc.authorization_endpoint,
                    "token_endpoint": doc.token_endpoint,
                    "end_session_endpoint": doc.end_session_endpoint,
                    "jwks_uri": doc.jwks_uri,
                }),
                None if provider.last_discovery_error().is_some() => json!({"state": "failing"}),
                None => json!({"state": "pending"}),
            };
            let mut discovery = discovery;
            discovery["last_error"] = failure(provider.last_discovery_error().as_deref());
            json!({
                "name": name,
                "kind": "oidc",
                "issuer": provider.issuer,
                "discovery": discovery,
                "keys": key_set(&provider.keys),
            })
        }
        PolicyKind::Introspection(intro) => {
            let c = &intro.counters;
            json!({
                "name": name,
                "kind": "introspection",
                "endpoint": intro.spec.endpoint,
                "calls": {
                    "active": c.active.load(Ordering::Relaxed),
                    "inactive": c.inactive.load(Ordering::Relaxed),
                    "unavailable": c.unavailable.load(Ordering::Relaxed),
                    "cached": c.cached.load(Ordering::Relaxed),
                    "last_latency_ms": c.last_micros.load(Ordering::Relaxed) as f64 / 1000.0,
                },
            })
        }
        _ => return None,
    })
}

/// A provider's key source and its current keys.
fn key_set(keys: &ProviderKeys) -> Value {
    let (source, location) = keys.source();
    let set = keys.current();
    let c = &keys.counters;
    json!({
        "key_source": {"type": source, "location": location},
        "keys": set.keys.iter().map(key).collect::<Vec<_>>(),
        "fetched_at": set.fetched_at.map(rfc3339),
        "since_last_fetch_s": keys.since_last_fetch().map(|d| d.as_secs_f64()),
        "last_error": failure(keys.last_error().as_deref()),
        "fetches": {
            "ok": c.ok.load(Ordering::Relaxed),
            "failed": c.failed.load(Ordering::Relaxed),
            "last_latency_ms": c.last_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        },
    })
}

/// One key without its material (for a shared secret, not even its size).
fn key(k: &Jwk) -> Value {
    let (kty, crv, bits) = match &k.material {
        KeyMaterial::Rsa { n, .. } => ("RSA", None, Some(n.len() * 8)),
        KeyMaterial::P256(_) => ("EC", Some("P-256"), None),
        KeyMaterial::P384(_) => ("EC", Some("P-384"), None),
        KeyMaterial::Ed25519(_) => ("OKP", Some("Ed25519"), None),
        KeyMaterial::Secret(_) => ("oct", None, None),
    };
    json!({
        "kid": k.kid,
        "kty": kty,
        "crv": crv,
        "bits": bits,
        "alg": k.alg.map(|a| a.name()),
    })
}

fn failure(f: Option<&FetchFailure>) -> Value {
    match f {
        Some(f) => json!({"error": f.error, "at": rfc3339(f.at)}),
        None => Value::Null,
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
