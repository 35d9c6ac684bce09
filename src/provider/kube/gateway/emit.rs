//! An HTTPRoute's lowered rules added to the model once per distinct host
//! set of the listeners it attached to; a host+match another (older)
//! object already claims stays with it and is reported.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::provider::ObjectRef;
use crate::provider::kube::builder::{Builder, RouteKey};
use crate::provider::kube::gateway::attach::Attachments;
use crate::provider::kube::gateway::route;
use crate::provider::kube::report::{Outcome, Report};

/// Adds the model routes: one per rule, match and distinct host set, on
/// the model listeners whose Gateway listeners gave that host set.
pub fn emit(
    object: &ObjectRef,
    rules: &route::Rules,
    attachments: &Attachments,
    out: &mut Builder,
    report: &mut Report,
) {
    let mut by_hosts: BTreeMap<&Vec<String>, BTreeSet<&'static str>> = BTreeMap::new();
    for ((_, _, model), hosts) in attachments {
        by_hosts.entry(hosts).or_default().insert(model);
    }
    let several = by_hosts.len() > 1;
    for (h, (hosts, models)) in by_hosts.into_iter().enumerate() {
        for rule in &rules.rules {
            for (m, matched) in rule.matches.iter().enumerate() {
                let mut name = format!(
                    "{}.{}.httproute.r{}.m{m}",
                    object.namespace, object.name, rule.index
                );
                if several {
                    name.push_str(&format!(".h{h}"));
                }
                // A host another route already claims with the same match
                // stays with it (the older one).
                let wanted: Vec<&str> = if hosts.is_empty() {
                    vec![""]
                } else {
                    hosts.iter().map(String::as_str).collect()
                };
                let mut keys = Vec::new();
                let mut free = Vec::new();
                for host in wanted {
                    let key = RouteKey::with_conditions(
                        host,
                        matched.kind,
                        &matched.value,
                        &matched.conditions,
                    );
                    match out.claim_owner(&key) {
                        Some(owner) if owner != object => report.push(
                            object,
                            name.clone(),
                            Outcome::Skipped,
                            format!(
                                "host {host:?} path {} {:?} with these conditions is already served by {owner} (the older object wins)",
                                matched.kind, matched.value
                            ),
                        ),
                        _ => {
                            keys.push(key);
                            free.push(host);
                        }
                    }
                }
                if keys.is_empty() {
                    continue;
                }
                let mut spec = matched.spec.clone();
                if !free.contains(&"") {
                    spec["hosts"] = json!(free);
                }
                let mut route = json!({"name": name, "listeners": models, "match": spec});
                if let Value::Object(route) = &mut route {
                    route.extend(rule.action.clone());
                }
                out.add_route_keys(object, keys, route, report);
            }
        }
    }
}
