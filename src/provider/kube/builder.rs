//! Accumulates the translated model and the origin of each entry, and
//! settles claims: a host+path belongs to the first (oldest) object that
//! claims it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::config::spec::{BackendSpec, GatewayConfig, PolicySpec, RouteSpec};
use crate::provider::ObjectRef;
use crate::provider::kube::index::Key;
use crate::provider::kube::report::{Outcome, Report};

/// What a route claims: host (empty: any), path match kind and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteKey {
    host: String,
    kind: &'static str,
    value: String,
    /// Other match conditions (HTTPRoute headers, query, method), encoded.
    conditions: String,
}

impl RouteKey {
    pub fn new(host: &str, kind: &'static str, value: &str) -> Self {
        Self::with_conditions(host, kind, value, "")
    }

    pub fn with_conditions(host: &str, kind: &'static str, value: &str, conditions: &str) -> Self {
        Self {
            host: host.to_ascii_lowercase(),
            kind,
            value: value.to_owned(),
            conditions: conditions.to_owned(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Builder {
    pub routes: Vec<RouteSpec>,
    pub backends: Vec<BackendSpec>,
    pub policies: Vec<PolicySpec>,
    /// Certificates by Secret, PEM cert and key.
    pub certificates: BTreeMap<Key, (String, String)>,
    /// Field path (`routes[3]`) → the object it came from.
    pub by_path: BTreeMap<String, ObjectRef>,
    /// Routes that only fail closed for a skipped object, by index.
    pub fail_closed: BTreeSet<usize>,
    claims: BTreeMap<RouteKey, ObjectRef>,
    backend_names: BTreeSet<String>,
    /// Hosts each object serves, for its fail-closed routes.
    pub hosts: BTreeMap<ObjectRef, Vec<String>>,
    /// Certificates' origins, for errors found on them.
    pub certificate_origins: BTreeMap<Key, ObjectRef>,
}

impl Builder {
    /// Adds a route unless another object claimed its host+path first.
    pub fn add_route(
        &mut self,
        object: &ObjectRef,
        key: RouteKey,
        route: Value,
        report: &mut Report,
    ) {
        if let Some(owner) = self.claims.get(&key) {
            if owner != object {
                let name = route["name"].as_str().unwrap_or_default().to_owned();
                report.push(object, name, Outcome::Skipped, format!(
                    "host {:?} path {} {:?} is already served by {owner} (the older object wins)",
                    key.host, key.kind, key.value
                ));
            }
            return;
        }
        match serde_json::from_value::<RouteSpec>(route) {
            Ok(route) => {
                self.by_path
                    .insert(format!("routes[{}]", self.routes.len()), object.clone());
                self.routes.push(route);
                self.claims.insert(key, object.clone());
            }
            Err(e) => report.push(object, "route", Outcome::Skipped, format!("internal: {e}")),
        }
    }

    /// The object that claimed `key`, if any.
    pub fn claim_owner(&self, key: &RouteKey) -> Option<&ObjectRef> {
        self.claims.get(key)
    }

    /// Adds a route claiming every key in `keys` (checked free by the caller
    /// through [`Builder::claim_owner`]).
    pub fn add_route_keys(
        &mut self,
        object: &ObjectRef,
        keys: Vec<RouteKey>,
        route: Value,
        report: &mut Report,
    ) {
        match serde_json::from_value::<RouteSpec>(route) {
            Ok(route) => {
                self.by_path
                    .insert(format!("routes[{}]", self.routes.len()), object.clone());
                self.routes.push(route);
                for key in keys {
                    self.claims.entry(key).or_insert_with(|| object.clone());
                }
            }
            Err(e) => report.push(object, "route", Outcome::Skipped, format!("internal: {e}")),
        }
    }

    /// Adds a 503 catch-all for a skipped object's host, unless taken.
    pub fn add_fail_closed(&mut self, object: &ObjectRef, host: &str, index: usize) {
        let key = RouteKey::new(host, "prefix", "/");
        if self.claims.contains_key(&key) {
            return;
        }
        let mut route = json!({
            "name": format!("{}.{}.fail-closed.{index}", object.namespace, object.name),
            "listeners": ["http"],
            "match": {"path": {"prefix": "/"}},
            "direct_response": {"status": 503, "body": "backend unavailable\n"},
        });
        if !host.is_empty() {
            route["match"]["hosts"] = json!([host]);
        }
        if let Ok(route) = serde_json::from_value::<RouteSpec>(route) {
            self.fail_closed.insert(self.routes.len());
            self.by_path
                .insert(format!("routes[{}]", self.routes.len()), object.clone());
            self.routes.push(route);
            self.claims.insert(key, object.clone());
        }
    }

    pub fn add_backend(&mut self, object: &ObjectRef, backend: BackendSpec) {
        if self.backend_names.insert(backend.name.clone()) {
            self.by_path
                .insert(format!("backends[{}]", self.backends.len()), object.clone());
            self.backends.push(backend);
        }
    }

    pub fn add_policy(&mut self, object: &ObjectRef, policy: Value) {
        if let Ok(policy) = serde_json::from_value::<PolicySpec>(policy) {
            self.by_path
                .insert(format!("policies[{}]", self.policies.len()), object.clone());
            self.policies.push(policy);
        }
    }

    pub fn add_certificate(&mut self, object: &ObjectRef, secret: Key, pem: (String, String)) {
        self.certificate_origins
            .entry(secret.clone())
            .or_insert_with(|| object.clone());
        self.certificates.entry(secret).or_insert(pem);
    }

    pub fn note_hosts(&mut self, object: &ObjectRef, hosts: Vec<String>) {
        self.hosts.insert(object.clone(), hosts);
    }

    /// The model: `base` plus the translated entries, with an HTTPS
    /// listener when any certificate was found.
    pub fn finish(
        mut self,
        mut base: GatewayConfig,
        http_address: &str,
        https_address: &str,
    ) -> Result<(GatewayConfig, BTreeMap<String, ObjectRef>), String> {
        let offset = |kind: &str, n: usize, by_path: &mut BTreeMap<String, ObjectRef>| {
            if n == 0 {
                return;
            }
            // Base entries come first: shift the translated indices.
            let moved: Vec<(String, ObjectRef)> = std::mem::take(by_path)
                .into_iter()
                .map(|(path, o)| {
                    match path
                        .strip_prefix(&format!("{kind}["))
                        .and_then(|r| r.strip_suffix(']'))
                        .and_then(|i| i.parse::<usize>().ok())
                    {
                        Some(i) => (format!("{kind}[{}]", i + n), o),
                        None => (path, o),
                    }
                })
                .collect();
            by_path.extend(moved);
        };
        offset("routes", base.routes.len(), &mut self.by_path);
        offset("backends", base.backends.len(), &mut self.by_path);
        offset("policies", base.policies.len(), &mut self.by_path);
        let http = serde_json::from_value(json!({"name": "http", "address": http_address}))
            .map_err(|e| e.to_string())?;
        base.listeners.push(http);
        if !self.certificates.is_empty() {
            let li = base.listeners.len();
            let certificates: Vec<Value> = self
                .certificates
                .iter()
                .enumerate()
                .map(|(i, (secret, (cert, key)))| {
                    if let Some(o) = self.certificate_origins.get(secret) {
                        self.by_path
                            .insert(format!("listeners[{li}].tls.certificates[{i}]"), o.clone());
                    }
                    json!({"cert": cert, "key": key})
                })
                .collect();
            let https = serde_json::from_value(json!({
                "name": "https", "address": https_address, "tls": {"certificates": certificates}
            }))
            .map_err(|e| e.to_string())?;
            base.listeners.push(https);
        }
        if self.certificates.is_empty() {
            // No HTTPS listener: routes name only the plain one.
            for route in &mut self.routes {
                route.listeners.retain(|l| l != "https");
            }
        }
        base.routes.extend(self.routes);
        base.backends.extend(self.backends);
        base.policies.extend(self.policies);
        Ok((base, self.by_path))
    }
}
