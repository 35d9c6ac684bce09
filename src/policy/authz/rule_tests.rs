//! Declarative matchers, first-match order and fail-closed CEL errors.

use std::sync::Arc;

use super::*;
use crate::config::spec_authz::AuthzSpec;
use crate::listener::client_ip::ClientIp;
use crate::policy::authz::{Authz, Verdict};
use crate::policy::principal::{AuthMethod, Principal};

fn authz(yaml: serde_json::Value) -> Authz {
    let spec: AuthzSpec = serde_json::from_value(yaml).unwrap();
    Authz::compile(&spec).unwrap()
}

fn decide(a: &Authz, method: &str, path: &str, principal: Option<&Principal>) -> Verdict {
    let headers = http::HeaderMap::new();
    let method: Method = method.parse().unwrap();
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source("192.0.2.7".parse().unwrap()),
        client_cert: None,
        method: &method,
        host: "api.example",
        path,
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        principal,
    };
    a.decide(&input)
}

fn alice() -> Principal {
    let mut p = Principal::new(AuthMethod::Jwt, Arc::from("jwt"), "alice");
    p.roles = vec!["dev".into()];
    p.scopes = vec!["read".into(), "write".into()];
    p.claims = serde_json::json!({"tenant": "acme", "groups": ["ops", "eng"], "level": 3});
    p
}

#[test]
fn first_match_wins_and_default_denies() {
    let a = authz(serde_json::json!({"rules": [
        {"name": "no-delete", "action": "deny", "methods": ["DELETE"]},
        {"name": "devs", "action": "allow", "roles": ["dev", "admin"], "paths": ["/api"]},
    ]}));
    let p = alice();
    assert_eq!(decide(&a, "GET", "/api/x", Some(&p)), Verdict::Allow);
    assert_eq!(
        decide(&a, "DELETE", "/api/x", Some(&p)),
        Verdict::Deny("no-delete".into())
    );
    assert_eq!(
        decide(&a, "GET", "/apix", Some(&p)),
        Verdict::Deny("default".into())
    );
    assert_eq!(
        decide(&a, "GET", "/api/x", None),
        Verdict::Deny("default".into())
    );
    assert!(a.reads_principal());
}

#[test]
fn claims_scopes_and_cidrs() {
    let a = authz(serde_json::json!({"rules": [
        {"name": "r", "action": "allow",
         "scopes": ["read", "write"],
         "claims": [
            {"claim": "tenant", "equals": "acme"},
            {"claim": "groups", "contains": "ops"},
            {"claim": "level", "one_of": [2, 3]},
            {"claim": "banned", "present": false}
         ],
         "client_cidrs": ["192.0.2.0/24"]}
    ]}));
    let p = alice();
    assert_eq!(decide(&a, "GET", "/", Some(&p)), Verdict::Allow);
    let mut other = alice();
    other.claims["tenant"] = serde_json::json!("evil");
    assert_eq!(
        decide(&a, "GET", "/", Some(&other)),
        Verdict::Deny("default".into())
    );
    let mut fewer = alice();
    fewer.scopes = vec!["read".into()];
    assert_eq!(
        decide(&a, "GET", "/", Some(&fewer)),
        Verdict::Deny("default".into())
    );
}

#[test]
fn cel_errors_fail_closed() {
    let a = authz(serde_json::json!({"default": "allow", "rules": [
        {"name": "broken-allow", "action": "allow", "cel": "principal.claims.nope.deeper == 1"},
        {"name": "broken-deny", "action": "deny", "cel": "principal.claims.nope.deeper == 1"},
    ]}));
    let p = alice();
    // The allow rule errors (not a match), the deny rule errors (a match).
    assert_eq!(
        decide(&a, "GET", "/", Some(&p)),
        Verdict::Deny("broken-deny".into())
    );
    assert!(a.counters.errors.load(std::sync::atomic::Ordering::Relaxed) >= 2);
}

#[test]
fn bad_rules_are_refused() {
    let bad = [
        serde_json::json!({"rules": [{"name": "x", "action": "allow", "cel": "a =="}]}),
        serde_json::json!({"rules": [{"name": "x", "action": "allow", "client_cidrs": ["nope"]}]}),
        serde_json::json!({"rules": [{"name": "x", "action": "allow", "claims": [{"claim": "a"}]}]}),
        serde_json::json!({"rules": [{"name": "x", "action": "allow", "methods": ["G ET"]}]}),
    ];
    for yaml in bad {
        let spec: AuthzSpec = serde_json::from_value(yaml.clone()).unwrap();
        assert!(Authz::compile(&spec).is_err(), "{yaml}");
    }
}
