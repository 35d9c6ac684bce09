//! Writes the Gateway API status the translation computed: GatewayClass
//! `Accepted`; Gateway conditions, listeners and addresses; HTTPRoute
//! `status.parents` entries of our controller (other controllers' entries
//! are kept). A condition keeps its `lastTransitionTime` while its status
//! stays; nothing is written when type, status, reason, message and
//! `observedGeneration` all match what the object already carries, so a
//! resync writes nothing.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ::kube::api::{Patch, PatchParams};
use ::kube::{Api, Client};
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::provider::kube::gateway::GROUP;
use crate::provider::kube::gateway::conditions::{Cond, ParentRef, StatusSet};
use crate::provider::kube::index::Index;

/// `desired` as API conditions, keeping the transition time of those whose
/// status did not change.
pub fn conditions(
    desired: &[Cond],
    generation: Option<i64>,
    current: &[Condition],
) -> Vec<Condition> {
    desired
        .iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let since = current
                .iter()
                .find(|old| old.type_ == c.type_ && old.status == status)
                .map(|old| old.last_transition_time.clone())
                .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::now()));
            Condition {
                type_: c.type_.to_owned(),
                status: status.to_owned(),
                reason: c.reason.to_owned(),
                message: c.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

/// Equal but for transition times.
pub fn same(a: &[Condition], b: &[Condition]) -> bool {
    let key = |c: &Condition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
            c.observed_generation,
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

fn address(value: &str) -> Value {
    let kind = if value.parse::<IpAddr>().is_ok() {
        "IPAddress"
    } else {
        "Hostname"
    };
    json!({"type": kind, "value": value})
}

/// The `status` of a Gateway, or `None` when it is already current.
pub fn gateway_patch(
    current: &Gateway,
    want: &crate::provider::kube::gateway::conditions::GatewayStatus,
) -> Option<Value> {
    let status = current.status.clone().unwrap_or_default();
    let now = status.conditions.clone().unwrap_or_default();
    let new = conditions(&want.conditions, want.generation, &now);
    let mut changed = !same(&now, &new);
    let old_listeners = status.listeners.clone().unwrap_or_default();
    let mut listeners = Vec::new();
    for l in &want.listeners {
        let old = old_listeners.iter().find(|o| o.name == l.name);
        let old_conditions = old.map(|o| o.conditions.clone()).unwrap_or_default();
        let lc = conditions(&l.conditions, want.generation, &old_conditions);
        let kinds: Vec<Value> = l
            .supported_kinds
            .iter()
            .map(|k| json!({"group": GROUP, "kind": k}))
            .collect();
        let old_kinds: Vec<String> = old
            .and_then(|o| o.supported_kinds.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.kind)
            .collect();
        changed |= old.is_none_or(|o| {
            o.attached_routes != l.attached_routes
                || !same(&o.conditions, &lc)
                || old_kinds != l.supported_kinds
        });
        listeners.push(json!({
            "name": l.name, "attachedRoutes": l.attached_routes,
            "supportedKinds": kinds, "conditions": lc,
        }));
    }
    changed |= old_listeners.len() != want.listeners.len();
    let old_addresses: Vec<String> = status
        .addresses
        .iter()
        .flatten()
        .map(|a| a.value.clone())
        .collect();
    changed |= old_addresses != want.addresses;
    let addresses: Vec<Value> = want.addresses.iter().map(|a| address(a)).collect();
    changed.then(
        || json!({"status": {"conditions": new, "listeners": listeners, "addresses": addresses}}),
    )
}

fn same_parent(
    ours: &ParentRef,
    theirs: &gateway_api::httproutes::HttpRouteStatusParentsParentRef,
    route_ns: &str,
) -> bool {
    theirs.name == ours.name
        && theirs.namespace.as_deref().unwrap_or(route_ns) == ours.namespace
        && theirs.section_name == ours.section_name
        && theirs.port == ours.port
}

/// The `status` of an HTTPRoute, or `None` when it is already current.
pub fn route_patch(
    current: &HttpRoute,
    want: &crate::provider::kube::gateway::conditions::RouteStatus,
    controller: &str,
) -> Option<Value> {
    let route_ns = current.metadata.namespace.as_deref().unwrap_or_default();
    let parents = current
        .status
        .as_ref()
        .map(|s| s.parents.clone())
        .unwrap_or_default();
    let mut out: Vec<Value> = parents
        .iter()
        .filter(|p| p.controller_name != controller)
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let mine: Vec<_> = parents
        .iter()
        .filter(|p| p.controller_name == controller)
        .collect();
    let mut changed = mine.len() != want.parents.len();
    for p in &want.parents {
        let old = mine
            .iter()
            .find(|o| same_parent(&p.parent, &o.parent_ref, route_ns));
        let old_conditions = old.map(|o| o.conditions.clone()).unwrap_or_default();
        let c = conditions(&p.conditions, want.generation, &old_conditions);
        changed |= old.is_none_or(|_| !same(&old_conditions, &c));
        let mut parent_ref = json!({
            "group": GROUP, "kind": "Gateway",
            "namespace": p.parent.namespace, "name": p.parent.name,
        });
        if let Some(s) = &p.parent.section_name {
            parent_ref["sectionName"] = json!(s);
        }
        if let Some(port) = p.parent.port {
            parent_ref["port"] = json!(port);
        }
        out.push(json!({"parentRef": parent_ref, "controllerName": controller, "conditions": c}));
    }
    changed.then(|| json!({"status": {"parents": out}}))
}

/// The `status` of a Policy, or `None` when it is already current.
pub fn policy_patch(
    current: &crate::provider::kube::policy_crd::Policy,
    want: &crate::provider::kube::gateway::conditions::PolicyStatus,
    controller: &str,
) -> Option<Value> {
    let status = current.status.clone().unwrap_or_default();
    let new = conditions(&want.conditions, want.generation, &status.conditions);
    let ancestors: Vec<Value> = want
        .ancestors
        .iter()
        .map(|a| {
            let group = match a.kind.as_str() {
                "Ingress" => "networking.k8s.io",
                _ => GROUP,
            };
            json!({
                "ancestorRef": {"group": group, "kind": a.kind, "namespace": a.namespace, "name": a.name},
                "controllerName": controller,
                "conditions": new,
            })
        })
        .collect();
    let unchanged = same(&status.conditions, &new) && {
        let refs = |list: &[Value]| -> Vec<Value> {
            list.iter().map(|a| a["ancestorRef"].clone()).collect()
        };
        refs(&status.ancestors) == refs(&ancestors)
    };
    (!unchanged).then(|| json!({"status": {"conditions": new, "ancestors": ancestors}}))
}

/// Writes whatever differs each time `desired` changes.
pub fn start(
    client: Client,
    index: Arc<Mutex<Index>>,
    controller: String,
    mut desired: watch::Receiver<StatusSet>,
) {
    tokio::spawn(async move {
        while desired.changed().await.is_ok() {
            let want = desired.borrow_and_update().clone();
            let mut patches: Vec<(&'static str, String, String, Value)> = Vec::new();
            if let Ok(index) = index.lock() {
                for (name, class) in &want.classes {
                    let Some(current) = index.gateway_classes.get(name) else {
                        continue;
                    };
                    let now = current
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.clone())
                        .unwrap_or_default();
                    let new = conditions(&class.conditions, class.generation, &now);
                    if !same(&now, &new) {
                        patches.push((
                            "GatewayClass",
                            String::new(),
                            name.clone(),
                            json!({"status": {"conditions": new}}),
                        ));
                    }
                }
                for ((ns, name), gw) in &want.gateways {
                    if let Some(current) = index.gateways.get(&(ns.clone(), name.clone()))
                        && let Some(patch) = gateway_patch(current, gw)
                    {
                        patches.push(("Gateway", ns.clone(), name.clone(), patch));
                    }
                }
                for ((ns, name), policy) in &want.policies {
                    if let Some(current) = index.policies.get(&(ns.clone(), name.clone()))
                        && let Some(patch) = policy_patch(current, policy, &controller)
                    {
                        patches.push(("Policy", ns.clone(), name.clone(), patch));
                    }
                }
                for ((ns, name), route) in &want.routes {
                    if let Some(current) = index.http_routes.get(&(ns.clone(), name.clone()))
                        && let Some(patch) = route_patch(current, route, &controller)
                    {
                        patches.push(("HTTPRoute", ns.clone(), name.clone(), patch));
                    }
                }
            }
            for (kind, ns, name, patch) in patches {
                let params = PatchParams::default();
                let patch = Patch::Merge(&patch);
                let result = match kind {
                    "GatewayClass" => Api::<GatewayClass>::all(client.clone())
                        .patch_status(&name, &params, &patch)
                        .await
                        .map(|_| ()),
                    "Gateway" => Api::<Gateway>::namespaced(client.clone(), &ns)
                        .patch_status(&name, &params, &patch)
                        .await
                        .map(|_| ()),
                    "Policy" => Api::<crate::provider::kube::policy_crd::Policy>::namespaced(
                        client.clone(),
                        &ns,
                    )
                    .patch_status(&name, &params, &patch)
                    .await
                    .map(|_| ()),
                    _ => Api::<HttpRoute>::namespaced(client.clone(), &ns)
                        .patch_status(&name, &params, &patch)
                        .await
                        .map(|_| ()),
                };
                if let Err(e) = result {
                    tracing::warn!(kind, namespace = %ns, name = %name, error = %e, "cannot write Gateway API status");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::kube::gateway::conditions::{ParentStatus, RouteStatus};

    fn route_with(parents: Value) -> HttpRoute {
        serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "ns", "generation": 3},
            "spec": {},
            "status": {"parents": parents},
        }))
        .unwrap()
    }

    fn want(accepted: bool) -> RouteStatus {
        RouteStatus {
            generation: Some(3),
            parents: vec![ParentStatus {
                parent: ParentRef {
                    namespace: "ns".into(),
                    name: "gw".into(),
                    section_name: None,
                    port: None,
                },
                conditions: vec![if accepted {
                    Cond::yes("Accepted", "Accepted", "route accepted")
                } else {
                    Cond::no("Accepted", "NotAllowedByListeners", "no")
                }],
            }],
        }
    }

    #[test]
    fn route_status_is_written_once_and_keeps_other_controllers() {
        let theirs = json!({
            "parentRef": {"name": "other-gw"}, "controllerName": "example.com/other",
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        });
        let route = route_with(json!([theirs]));
        let patch = route_patch(&route, &want(true), "portcullis.dev/gateway-controller").unwrap();
        let parents = patch["status"]["parents"].as_array().unwrap();
        assert_eq!(parents.len(), 2);
        assert_eq!(parents[0]["controllerName"], "example.com/other");
        assert_eq!(parents[1]["conditions"][0]["observedGeneration"], 3);
        // Applied: nothing more to write.
        let written = route_with(patch["status"]["parents"].clone());
        assert!(route_patch(&written, &want(true), "portcullis.dev/gateway-controller").is_none());
        // A change of status is written, with a new transition time.
        let changed =
            route_patch(&written, &want(false), "portcullis.dev/gateway-controller").unwrap();
        assert_eq!(
            changed["status"]["parents"][1]["conditions"][0]["status"],
            "False"
        );
    }

    #[test]
    fn transition_times_stay_while_the_status_stays() {
        let old = Condition {
            type_: "Accepted".into(),
            status: "True".into(),
            reason: "Accepted".into(),
            message: "old message".into(),
            observed_generation: Some(1),
            last_transition_time: Time("2026-01-01T00:00:00Z".parse().unwrap()),
        };
        let new = conditions(
            &[Cond::yes("Accepted", "Accepted", "new message")],
            Some(2),
            std::slice::from_ref(&old),
        );
        assert_eq!(new[0].last_transition_time, old.last_transition_time);
        assert!(!same(std::slice::from_ref(&old), &new));
        let flipped = conditions(
            &[Cond::no("Accepted", "Invalid", "x")],
            Some(2),
            std::slice::from_ref(&old),
        );
        assert_ne!(flipped[0].last_transition_time, old.last_transition_time);
    }
}
