//! Gateway API v1 (standard channel) lowered into the same model as
//! Ingresses: GatewayClasses whose `controllerName` is ours, their
//! Gateways' listeners, and the HTTPRoutes that attach to them (oldest
//! first, then by namespace/name, so the spec's tie-break holds in the
//! route table's configuration order). Computes the status the spec asks
//! for alongside; the status writer publishes it.

pub mod attach;
pub mod backends;
pub mod conditions;
pub mod emit;
pub mod filters;
pub mod hosts;
pub mod listeners;
pub mod refs;
pub mod route;

use std::collections::{BTreeMap, BTreeSet};

use gateway_api::httproutes::HttpRoute;
use serde_json::json;

use crate::provider::ObjectRef;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::conditions::{
    ClassStatus, Cond, GatewayStatus, RouteStatus, StatusSet,
};
use crate::provider::kube::gateway::listeners::Listener;
use crate::provider::kube::index::Key;
use crate::provider::kube::ingress::Context;
use crate::provider::kube::policy_crd::Policies;
use crate::provider::kube::report::Report;
use crate::provider::kube::translate::Settings;

pub const GROUP: &str = "gateway.networking.k8s.io";

fn object_ref(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        namespace: namespace.to_owned(),
        kind: kind.into(),
        name: name.to_owned(),
    }
}

pub fn route_ref(route: &HttpRoute) -> ObjectRef {
    object_ref(
        "HTTPRoute",
        route.metadata.namespace.as_deref().unwrap_or_default(),
        route.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// What the Gateway API part of a translation produced besides the model.
#[derive(Debug, Clone, Default)]
pub struct GatewayOutcome {
    pub status: StatusSet,
    /// Hosts of HTTPRoutes excluded by validation, for their 503s.
    pub excluded_hosts: Vec<(ObjectRef, Vec<String>)>,
}

/// Lowers the Gateway API objects of `context.index` into `out`.
/// `excluded`: HTTPRoutes whose entries failed validation, and why.
pub fn translate(
    settings: &Settings,
    context: &Context<'_>,
    excluded: &BTreeMap<ObjectRef, String>,
    policies: &mut Policies,
    out: &mut Builder,
    report: &mut Report,
) -> GatewayOutcome {
    let index = context.index;
    let mut status = StatusSet::default();
    let watched =
        |ns: &str| settings.namespaces.is_empty() || settings.namespaces.iter().any(|n| n == ns);
    // Classes.
    let ours: BTreeSet<&str> = index
        .gateway_classes
        .iter()
        .filter(|(_, c)| c.spec.controller_name == settings.gateway_controller)
        .map(|(name, _)| name.as_str())
        .collect();
    for name in &ours {
        let generation = index
            .gateway_classes
            .get(*name)
            .and_then(|c| c.metadata.generation);
        status.classes.insert(
            (*name).to_owned(),
            ClassStatus {
                generation,
                conditions: vec![Cond::yes("Accepted", "Accepted", "accepted by Portcullis")],
            },
        );
    }
    // Gateways and their listeners.
    let mut gateways: BTreeMap<Key, Vec<Listener>> = BTreeMap::new();
    for (key, gateway) in &index.gateways {
        if !ours.contains(gateway.spec.gateway_class_name.as_str()) || !watched(&key.0) {
            continue;
        }
        let object = object_ref("Gateway", &key.0, &key.1);
        let listeners = listeners::evaluate(&object, gateway, index, out, report);
        gateways.insert(key.clone(), listeners);
    }
    // Routes, oldest first.
    let mut routes: Vec<&HttpRoute> = index
        .http_routes
        .values()
        .filter(|r| watched(r.metadata.namespace.as_deref().unwrap_or_default()))
        .collect();
    routes.sort_by(|a, b| {
        let at = |r: &HttpRoute| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        at(a)
            .cmp(&at(b))
            .then_with(|| route_ref(a).cmp(&route_ref(b)))
    });
    let mut excluded_hosts = Vec::new();
    for route in routes {
        let object = route_ref(route);
        let route_key: Key = (object.namespace.clone(), object.name.clone());
        let attached = attach::attach(index, route, &object, &mut gateways);
        let Some((mut parents, attachments)) = attached else {
            continue; // no parent of ours
        };
        let mut resolved = Cond::yes("ResolvedRefs", "ResolvedRefs", "all references resolved");
        if !attachments.is_empty() {
            if let Some(why) = excluded.get(&object) {
                for p in &mut parents {
                    set(
                        &mut p.conditions,
                        Cond::no("Accepted", "UnsupportedValue", why.clone()),
                    );
                }
                let hosts: BTreeSet<String> = attachments.values().flatten().cloned().collect();
                excluded_hosts.push((object.clone(), hosts.into_iter().collect()));
            } else {
                let mut rules = route::translate(&object, route, context, out, report);
                let gws: Vec<Key> = attachments
                    .keys()
                    .map(|(gw, _, _)| gw.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (attached_policies, failed) = policies.for_route(&object, &gws);
                policies.note_ancestor(
                    &(
                        "HTTPRoute".into(),
                        object.namespace.clone(),
                        object.name.clone(),
                    ),
                    &object,
                );
                for (ns, name) in &gws {
                    policies.note_ancestor(
                        &("Gateway".into(), ns.clone(), name.clone()),
                        &object_ref("Gateway", ns, name),
                    );
                }
                if failed {
                    // A Policy meant for these routes is invalid: fail
                    // closed rather than serve without it.
                    for rule in &mut rules.rules {
                        rule.action = serde_json::Map::new();
                        rule.action.insert(
                            "direct_response".into(),
                            json!({"status": 503, "body": "policy invalid\n"}),
                        );
                    }
                }
                for rule in &mut rules.rules {
                    if !attached_policies.is_empty() && !failed {
                        rule.action
                            .insert("policies".into(), json!(attached_policies));
                    }
                }
                resolved = rules.resolved.clone();
                let partially = (!rules.unsupported.is_empty()).then(|| {
                    Cond::yes(
                        "PartiallyInvalid",
                        "UnsupportedValue",
                        format!(
                            "Dropped Rule(s): {}; their requests answer 500",
                            rules.unsupported.join("; ")
                        ),
                    )
                });
                emit::emit(&object, &rules, &attachments, out, report);
                for p in &mut parents {
                    if let Some(c) = &partially
                        && p.conditions
                            .iter()
                            .any(|c| c.type_ == "Accepted" && c.status)
                    {
                        p.conditions.push(c.clone());
                    }
                }
                // Counted once per listener however many parentRefs hit it.
                let mut counted: BTreeSet<(Key, String)> = BTreeSet::new();
                for (gw, listener, _) in attachments.keys() {
                    if counted.insert((gw.clone(), listener.clone()))
                        && let Some(l) = gateways
                            .get_mut(gw)
                            .and_then(|ls| ls.iter_mut().find(|l| &l.name == listener))
                    {
                        l.status.attached_routes += 1;
                    }
                }
            }
        }
        for p in &mut parents {
            p.conditions.push(resolved.clone());
        }
        status.routes.insert(
            route_key,
            RouteStatus {
                generation: route.metadata.generation,
                parents,
            },
        );
    }
    // Gateway status, now that routes are counted.
    for (key, listeners) in gateways {
        let Some(gateway) = index.gateways.get(&key) else {
            continue;
        };
        let invalid: Vec<&str> = listeners
            .iter()
            .filter(|l| !l.ready)
            .map(|l| l.name.as_str())
            .collect();
        let mut conditions = Vec::new();
        if invalid.is_empty() {
            conditions.push(Cond::yes("Accepted", "Accepted", "gateway accepted"));
        } else if invalid.len() < listeners.len() {
            conditions.push(Cond::yes(
                "Accepted",
                "ListenersNotValid",
                format!("listeners not served: {}", invalid.join(", ")),
            ));
        } else {
            conditions.push(Cond::no(
                "Accepted",
                "ListenersNotValid",
                "no listener can be served",
            ));
        }
        let requested: Vec<String> = gateway
            .spec
            .addresses
            .iter()
            .flatten()
            .filter_map(|a| a.value.clone())
            .collect();
        let published: Vec<String> = settings.publish_address.iter().cloned().collect();
        if requested.iter().any(|a| !published.contains(a)) {
            conditions.push(Cond::no(
                "Programmed",
                "AddressNotAssigned",
                format!(
                    "spec.addresses {requested:?} cannot be assigned; the gateway publishes {published:?}"
                ),
            ));
        } else if invalid.len() < listeners.len() {
            conditions.push(Cond::yes("Programmed", "Programmed", "gateway programmed"));
        } else {
            conditions.push(Cond::no(
                "Programmed",
                "Invalid",
                "no listener can be served",
            ));
        }
        status.gateways.insert(
            key,
            GatewayStatus {
                generation: gateway.metadata.generation,
                conditions,
                listeners: listeners.into_iter().map(|l| l.status).collect(),
                addresses: published,
            },
        );
    }
    GatewayOutcome {
        status,
        excluded_hosts,
    }
}

/// Replaces the condition of the same type.
fn set(conditions: &mut Vec<Cond>, c: Cond) {
    conditions.retain(|x| x.type_ != c.type_);
    conditions.push(c);
}
