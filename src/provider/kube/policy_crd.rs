//! Portcullis policies as Kubernetes objects (`portcullis.dev/v1alpha1`
//! `Policy`): `spec` is exactly a policy of the file configuration (one kind:
//! `ip_filter`, `rate_limit`, `inflight`, `jwt`, …, same fields, same
//! validation) plus `targetRefs` naming the Gateways and HTTPRoutes of its
//! namespace it applies to. An Ingress attaches one with the
//! `portcullis.dev/policies` annotation. A policy that does not parse or
//! validate is reported in its status, and the routes it targets fail
//! closed (503) rather than run without it.

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::spec::PolicySpec;
use crate::provider::ObjectRef;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::conditions::{Cond, PolicyStatus};
use crate::provider::kube::index::{Index, Key};
use crate::provider::kube::report::{Outcome, Report};

pub const GROUP: &str = "portcullis.dev";

/// `spec` of a Policy: `targetRefs` and one policy kind's fields.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "Policy",
    namespaced,
    status = "PolicyObjectStatus",
    schema = "disabled"
)]
pub struct PolicyObjectSpec {
    #[serde(default, rename = "targetRefs")]
    pub target_refs: Vec<TargetRef>,
    /// The policy body, as in the file configuration (without `name`).
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct TargetRef {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    pub name: String,
}

/// `status`: the policy's own conditions, and `ancestors` (GEP-713 policy
/// status: each object it is attached to, with the same conditions).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct PolicyObjectStatus {
    #[serde(default)]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    #[serde(default)]
    pub ancestors: Vec<Value>,
}

/// `(kind, namespace, name)` of a policy target.
pub type Target = (String, String, String);

/// The policies of the index, resolved.
#[derive(Debug, Default, Clone)]
pub struct Policies {
    /// Model policy names attached to each target, in Policy name order.
    pub by_target: BTreeMap<Target, Vec<String>>,
    /// Targets of a Policy that is invalid: their routes fail closed.
    pub failed_targets: BTreeSet<Target>,
    /// Valid policies by `(namespace, name)` → model name (Ingress annotation).
    pub by_name: BTreeMap<Key, String>,
    /// Invalid policies by `(namespace, name)`.
    pub invalid: BTreeSet<Key>,
    /// Each Policy's targets.
    pub targets_of: BTreeMap<Key, Vec<Target>>,
    pub status: BTreeMap<Key, PolicyStatus>,
}

pub fn policy_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        namespace: namespace.to_owned(),
        kind: "Policy".into(),
        name: name.to_owned(),
    }
}

/// The model name of Policy `namespace/name`.
pub fn model_name(namespace: &str, name: &str) -> String {
    format!("{namespace}.policy.{name}")
}

/// Parses every Policy of a watched namespace; valid ones go into `out`.
/// `excluded`: Policies whose model entry failed validation, and why.
pub fn collect(
    index: &Index,
    namespaces: &[String],
    excluded: &BTreeMap<ObjectRef, String>,
    out: &mut Builder,
    report: &mut Report,
) -> Policies {
    let mut policies = Policies::default();
    for ((ns, name), policy) in &index.policies {
        if !namespaces.is_empty() && !namespaces.contains(ns) {
            continue;
        }
        let object = policy_ref(ns, name);
        let model = model_name(ns, name);
        let mut body = policy.spec.body.clone();
        body.insert("name".into(), Value::String(model.clone()));
        let parsed = match excluded.get(&object) {
            Some(why) => Err(why.clone()),
            None => serde_json::from_value::<PolicySpec>(Value::Object(body))
                .map_err(|e| format!("spec: {e}")),
        };
        let parsed = parsed.and_then(|p| {
            if p.kind().is_some() {
                Ok(p)
            } else {
                Err("spec: set exactly one policy kind (ip_filter, rate_limit, …)".to_owned())
            }
        });
        let targets: Vec<Target> = policy
            .spec
            .target_refs
            .iter()
            .map(|t| (t.kind.clone(), ns.clone(), t.name.clone()))
            .collect();
        policies
            .targets_of
            .insert((ns.clone(), name.clone()), targets.clone());
        let mut conditions = Vec::new();
        match parsed {
            Ok(_) => {
                let mut value = Map::new();
                for (k, v) in &policy.spec.body {
                    value.insert(k.clone(), v.clone());
                }
                value.insert("name".into(), Value::String(model.clone()));
                out.add_policy(&object, Value::Object(value));
                for t in &targets {
                    policies
                        .by_target
                        .entry(t.clone())
                        .or_default()
                        .push(model.clone());
                }
                policies.by_name.insert((ns.clone(), name.clone()), model);
                conditions.push(Cond::yes("Accepted", "Accepted", "policy accepted"));
            }
            Err(why) => {
                report.push(
                    &object,
                    "spec",
                    Outcome::Skipped,
                    format!("{why}; the routes it targets answer 503"),
                );
                policies.failed_targets.extend(targets.iter().cloned());
                policies.invalid.insert((ns.clone(), name.clone()));
                conditions.push(Cond::no("Accepted", "Invalid", why));
            }
        }
        let unknown: Vec<String> = policy
            .spec
            .target_refs
            .iter()
            .filter(|t| !matches!(t.kind.as_str(), "Gateway" | "HTTPRoute"))
            .map(|t| format!("{}/{}", t.kind, t.name))
            .collect();
        if !unknown.is_empty() {
            conditions.push(Cond::no(
                "ResolvedRefs",
                "InvalidKind",
                format!(
                    "targets must be Gateways or HTTPRoutes: {}",
                    unknown.join(", ")
                ),
            ));
        }
        policies.status.insert(
            (ns.clone(), name.clone()),
            PolicyStatus {
                generation: policy.metadata.generation,
                conditions,
                ancestors: Vec::new(),
            },
        );
    }
    policies
}

impl Policies {
    /// Records that `target` is served, so the policies naming it list it
    /// where they are attached.
    pub fn note_ancestor(&mut self, target: &Target, ancestor: &ObjectRef) {
        for (key, status) in self.status.iter_mut() {
            let names_it = self.targets_of.get(key).is_some_and(|t| t.contains(target));
            if names_it && !status.ancestors.contains(ancestor) {
                status.ancestors.push(ancestor.clone());
            }
        }
    }

    /// Records that an Ingress attaches Policy `key` by annotation.
    pub fn note_ingress(&mut self, key: &Key, ingress: &ObjectRef) {
        if let Some(status) = self.status.get_mut(key)
            && !status.ancestors.contains(ingress)
        {
            status.ancestors.push(ingress.clone());
        }
    }

    /// The model policies for routes of HTTPRoute `route` attached to
    /// `gateways`, and whether an invalid Policy targets them.
    pub fn for_route(&self, route: &ObjectRef, gateways: &[Key]) -> (Vec<String>, bool) {
        let mut names = Vec::new();
        let mut failed = false;
        let mut targets: Vec<Target> = gateways
            .iter()
            .map(|(ns, name)| ("Gateway".to_owned(), ns.clone(), name.clone()))
            .collect();
        targets.push((
            "HTTPRoute".into(),
            route.namespace.clone(),
            route.name.clone(),
        ));
        for t in &targets {
            failed |= self.failed_targets.contains(t);
            for n in self.by_target.get(t).into_iter().flatten() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        (names, failed)
    }
}
