//! Which listeners an HTTPRoute attaches to, per parentRef: sectionName and
//! port, the listener being served, its `allowedRoutes`, and the hostname
//! intersection; each parentRef gets its `Accepted` condition.

use std::collections::BTreeMap;

use gateway_api::httproutes::HttpRoute;

use crate::provider::ObjectRef;
use crate::provider::kube::gateway::conditions::{Cond, ParentRef, ParentStatus};
use crate::provider::kube::gateway::listeners::Listener;
use crate::provider::kube::gateway::{GROUP, hosts};
use crate::provider::kube::index::Key;

/// `(gateway, listener name, model listener)` → the hosts served there.
pub type Attachments = BTreeMap<(Key, String, &'static str), Vec<String>>;

/// The route's parentRefs that name a Gateway of ours, each with its
/// `Accepted` condition, and the listeners it attached to. `None` when no
/// parentRef is ours (the route is someone else's).
pub fn attach(
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
