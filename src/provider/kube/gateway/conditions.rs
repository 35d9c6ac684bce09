//! The Gateway API status the translation computes, as pure values: which
//! conditions each GatewayClass, Gateway (and listener) and HTTPRoute parent
//! should carry. The status writer turns them into `metav1.Condition`s
//! (adding `lastTransitionTime`) and writes only what differs.

use std::collections::BTreeMap;

use crate::provider::kube::index::Key;

/// One condition: type, status, reason and message, as the spec names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Cond {
    pub fn yes(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: true,
            reason,
            message: message.into(),
        }
    }

    pub fn no(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: false,
            reason,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassStatus {
    pub generation: Option<i64>,
    pub conditions: Vec<Cond>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub name: String,
    pub attached_routes: i32,
    pub supported_kinds: Vec<&'static str>,
    pub conditions: Vec<Cond>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayStatus {
    pub generation: Option<i64>,
    pub conditions: Vec<Cond>,
    pub listeners: Vec<ListenerStatus>,
    /// `status.addresses`: the published address, when there is one.
    pub addresses: Vec<String>,
}

/// `status.parents[].parentRef`, as the route wrote it (defaults applied
/// only where the spec says so: the namespace is always written).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ParentRef {
    pub namespace: String,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentStatus {
    pub parent: ParentRef,
    pub conditions: Vec<Cond>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStatus {
    pub generation: Option<i64>,
    pub parents: Vec<ParentStatus>,
}

/// A Portcullis Policy object: accepted or not, and where it is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    pub generation: Option<i64>,
    pub conditions: Vec<Cond>,
    pub ancestors: Vec<crate::provider::ObjectRef>,
}

/// Everything the writer should make true, by object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSet {
    pub classes: BTreeMap<String, ClassStatus>,
    pub gateways: BTreeMap<Key, GatewayStatus>,
    pub routes: BTreeMap<Key, RouteStatus>,
    pub policies: BTreeMap<Key, PolicyStatus>,
}

impl StatusSet {
    /// A readable rendering for goldens and logs, one line per condition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let cond = |out: &mut String, indent: &str, c: &Cond| {
            out.push_str(&format!(
                "{indent}{} {} {}: {}\n",
                c.type_,
                if c.status { "True" } else { "False" },
                c.reason,
                c.message
            ));
        };
        for (name, class) in &self.classes {
            out.push_str(&format!("GatewayClass/{name}\n"));
            for c in &class.conditions {
                cond(&mut out, "  ", c);
            }
        }
        for ((ns, name), gw) in &self.gateways {
            out.push_str(&format!("{ns}/Gateway/{name}\n"));
            for c in &gw.conditions {
                cond(&mut out, "  ", c);
            }
            for l in &gw.listeners {
                out.push_str(&format!(
                    "  listener {} attachedRoutes={} kinds={:?}\n",
                    l.name, l.attached_routes, l.supported_kinds
                ));
                for c in &l.conditions {
                    cond(&mut out, "    ", c);
                }
            }
        }
        for ((ns, name), route) in &self.routes {
            out.push_str(&format!("{ns}/HTTPRoute/{name}\n"));
            for p in &route.parents {
                let mut parent = format!("  parent {}/{}", p.parent.namespace, p.parent.name);
                if let Some(s) = &p.parent.section_name {
                    parent.push_str(&format!(" sectionName={s}"));
                }
                if let Some(port) = p.parent.port {
                    parent.push_str(&format!(" port={port}"));
                }
                out.push_str(&parent);
                out.push('\n');
                for c in &p.conditions {
                    cond(&mut out, "    ", c);
                }
            }
        }
        for ((ns, name), policy) in &self.policies {
            out.push_str(&format!("{ns}/Policy/{name}\n"));
            for c in &policy.conditions {
                cond(&mut out, "  ", c);
            }
            for a in &policy.ancestors {
                out.push_str(&format!("  attached to {a}\n"));
            }
        }
        out
    }
}
