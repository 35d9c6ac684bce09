//! Gateway API v1 (standard channel) lowered into the same model as
//! Ingresses: GatewayClasses whose `controllerName` is ours, their
//! Gateways' listeners, and the HTTPRoutes that attach to them (oldest
//! first, then by namespace/name, so the spec's tie-break holds in the
//! route table's configuration order). Computes the status the spec asks
//! for alongside; the status writer publishes it.

pub mod conditions;
pub mod hosts;
pub mod listeners;
pub mod refs;
pub mod route;

use std::collections::{BTreeMap, BTreeSet};

use gateway_api::httproutes::HttpRoute;
use serde_json::{Value, json};

use crate::provider::ObjectRef;
use crate::provider::kube::builder::{Builder, RouteKey};
use crate::provider::kube::gateway::conditions::{
    ClassStatus, Cond, GatewayStatus, ParentRef, ParentStatus, RouteStatus, StatusSet,
};
use crate::provider::kube::gateway::listeners::Listener;
use crate::provider::kube::index::Key;
use crate::provider::kube::ingress::Context;
use crate::provider::kube::policy_crd::Policies;
use crate::provider::kube::report::{Outcome, Report};
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
        let attached = attach(index, route, &object, &mut gateways);
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
                emit(&object, &rules, &attachments, out, report);
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

/// `(gateway, listener name, model listener)` → the hosts served there.
type Attachments = BTreeMap<(Key, String, &'static str), Vec<String>>;

/// The route's parentRefs that name a Gateway of ours, each with its
/// `Accepted` condition, and the listeners it attached to. `None` when no
/// parentRef is ours (the route is someone else's).
fn attach(
    index: &crate::provider::kube::index::Index,
    route: &HttpRoute,
    object: &ObjectRef,
    gateways: &mut BTreeMap<Key, Vec<Listener>>,
) -> Option<(Vec<ParentStatus>, Attachments)> {
    let route_ns = object.namespace.as_str();
    let hostnames = route.spec.hostnames.clone().unwrap_or_default();
    let mut parents = Vec::new();
    let mut attachments = Attachments::new();
    for parent in route.spec.parent_refs.iter().flatten() {
        let group = parent.group.as_deref().unwrap_or(GROUP);
        let kind = parent.kind.as_deref().unwrap_or("Gateway");
        if group != GROUP || kind != "Gateway" {
            continue;
        }
        let gw_ns = parent.namespace.as_deref().unwrap_or(route_ns);
        let key: Key = (gw_ns.to_owned(), parent.name.clone());
        let Some(listeners) = gateways.get(&key) else {
            continue;
        };
        let parent_ref = ParentRef {
            namespace: gw_ns.to_owned(),
            name: parent.name.clone(),
            section_name: parent.section_name.clone(),
            port: parent.port,
        };
        let candidates: Vec<&Listener> = listeners
            .iter()
            .filter(|l| parent.section_name.as_ref().is_none_or(|s| *s == l.name))
            .filter(|l| parent.port.is_none_or(|p| p == l.port))
            .collect();
        let accepted = if candidates.is_empty() {
            Cond::no(
                "Accepted",
                "NoMatchingParent",
                "no listener of the Gateway matches sectionName/port",
            )
        } else {
            let ready: Vec<&&Listener> = candidates.iter().filter(|l| l.ready).collect();
            let allowed: Vec<&&Listener> = ready
                .iter()
                .copied()
                .filter(|l| l.takes_http_routes && l.allows(index, gw_ns, route_ns))
                .collect();
            if ready.is_empty() {
                Cond::no(
                    "Accepted",
                    "NoMatchingParent",
                    "the matching listeners are not served (see the Gateway's status)",
                )
            } else if allowed.is_empty() {
                Cond::no(
                    "Accepted",
                    "NotAllowedByListeners",
                    "the listeners' allowedRoutes do not admit this route",
                )
            } else {
                let mut any = false;
                for l in allowed {
                    if let Some(hosts) = hosts::intersect(&hostnames, l.hostname.as_deref()) {
                        any = true;
                        attachments.insert((key.clone(), l.name.clone(), l.model_name()), hosts);
                    }
                }
                if any {
                    Cond::yes("Accepted", "Accepted", "route accepted")
                } else {
                    Cond::no(
                        "Accepted",
                        "NoMatchingListenerHostname",
                        "no hostname of the route matches a listener's hostname",
                    )
                }
            }
        };
        parents.push(ParentStatus {
            parent: parent_ref,
            conditions: vec![accepted],
        });
    }
    (!parents.is_empty()).then_some((parents, attachments))
}

/// Adds the model routes: one per rule, match and distinct host set, on
/// the model listeners whose Gateway listeners gave that host set.
fn emit(
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
