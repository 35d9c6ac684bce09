//! A Gateway's listeners checked against what Portcullis serves: every
//! `HTTP` listener is served on the gateway's plain listener and every
//! `HTTPS` one (TLS `Terminate`, certificates from Secrets) on its TLS
//! listener, whatever the port (the port is the one the Service in front
//! publishes). Each listener gets the spec's conditions and, once routes
//! attach, its `attachedRoutes`.

use std::collections::BTreeMap;

use gateway_api::gateways::{
    Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom, GatewayListenersTlsMode,
};

use crate::provider::ObjectRef;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::GROUP;
use crate::provider::kube::gateway::conditions::{Cond, ListenerStatus};
use crate::provider::kube::gateway::refs::{self, RefKind};
use crate::provider::kube::index::Index;
use crate::provider::kube::ingress;
use crate::provider::kube::report::{Outcome, Report};

/// Which namespaces' routes a listener takes.
#[derive(Debug, Clone)]
pub enum From {
    Same,
    All,
    /// `matchLabels` and `(key, operator, values)` expressions.
    Selector(BTreeMap<String, String>, Vec<(String, String, Vec<String>)>),
}

/// One listener, evaluated.
#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub port: i32,
    pub https: bool,
    pub hostname: Option<String>,
    pub from: From,
    /// Whether HTTPRoutes may attach (the kinds allow it).
    pub takes_http_routes: bool,
    /// Accepted and programmed: routes attach and are served.
    pub ready: bool,
    pub status: ListenerStatus,
}

impl Listener {
    /// Whether a route in `route_ns` may attach, the Gateway being in `gw_ns`.
    pub fn allows(&self, index: &Index, gw_ns: &str, route_ns: &str) -> bool {
        match &self.from {
            From::Same => gw_ns == route_ns,
            From::All => true,
            From::Selector(labels, expressions) => {
                let empty = BTreeMap::new();
                let ns_labels = index
                    .namespaces
                    .get(route_ns)
                    .and_then(|n| n.metadata.labels.as_ref())
                    .unwrap_or(&empty);
                refs::selects(Some(labels), expressions, ns_labels)
            }
        }
    }

    /// The model listener this one is served on.
    pub fn model_name(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }
}

/// Evaluates the listeners of `gateway`, adding the certificates of valid
/// HTTPS listeners to `out`.
pub fn evaluate(
    object: &ObjectRef,
    gateway: &Gateway,
    index: &Index,
    out: &mut Builder,
    report: &mut Report,
) -> Vec<Listener> {
    let specs = &gateway.spec.listeners;
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| one(object, spec, specs, i, index, out, report))
        .collect()
}

fn one(
    object: &ObjectRef,
    spec: &GatewayListeners,
    all: &[GatewayListeners],
    position: usize,
    index: &Index,
    out: &mut Builder,
    report: &mut Report,
) -> Listener {
    let namespace = object.namespace.as_str();
    let mut accepted = Cond::yes("Accepted", "Accepted", "listener accepted");
    let mut resolved = Cond::yes("ResolvedRefs", "ResolvedRefs", "all references resolved");
    let https = match spec.protocol.as_str() {
        "HTTP" => false,
        "HTTPS" => true,
        other => {
            accepted = Cond::no(
                "Accepted",
                "UnsupportedProtocol",
                format!("protocol {other:?} is not supported (HTTP and HTTPS are)"),
            );
            false
        }
    };
    // Kinds: HTTPRoute is the only one served.
    let mut supported_kinds = Vec::new();
    let mut takes_http_routes = true;
    if let Some(kinds) = spec.allowed_routes.as_ref().and_then(|a| a.kinds.as_ref()) {
        takes_http_routes = false;
        let mut invalid = Vec::new();
        for k in kinds {
            let group = k.group.as_deref().unwrap_or(GROUP);
            if group == GROUP && k.kind == "HTTPRoute" {
                takes_http_routes = true;
            } else {
                invalid.push(format!("{group}/{}", k.kind));
            }
        }
        if !invalid.is_empty() {
            resolved = Cond::no(
                "ResolvedRefs",
                "InvalidRouteKinds",
                format!("route kinds {} are not supported", invalid.join(", ")),
            );
        }
    }
    if takes_http_routes && accepted.status {
        supported_kinds.push("HTTPRoute");
    }
    // TLS: Terminate with at least one valid certificate.
    let mut has_certificate = false;
    if https && accepted.status {
        let tls = spec.tls.as_ref();
        let passthrough = tls
            .and_then(|t| t.mode.as_ref())
            .is_some_and(|m| matches!(m, GatewayListenersTlsMode::Passthrough));
        if passthrough {
            accepted = Cond::no(
                "Accepted",
                "UnsupportedValue",
                "TLS mode Passthrough is not supported on HTTPS listeners",
            );
        }
        let mut problems = Vec::new();
        for (c, cert) in tls
            .and_then(|t| t.certificate_refs.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let group = cert.group.as_deref().unwrap_or("");
            let kind = cert.kind.as_deref().unwrap_or("Secret");
            let cert_ns = cert.namespace.as_deref().unwrap_or(namespace);
            if !group.is_empty() || kind != "Secret" {
                problems.push((
                    "InvalidCertificateRef",
                    format!("certificateRefs[{c}]: {group}/{kind} is not a Secret"),
                ));
                continue;
            }
            if !refs::permitted(
                index,
                RefKind {
                    group: GROUP,
                    kind: "Gateway",
                },
                namespace,
                RefKind {
                    group: "",
                    kind: "Secret",
                },
                cert_ns,
                &cert.name,
            ) {
                problems.push((
                    "RefNotPermitted",
                    format!(
                        "certificateRefs[{c}]: no ReferenceGrant in {cert_ns} lets this Gateway use Secret {}",
                        cert.name
                    ),
                ));
                continue;
            }
            match ingress::certificate(index, cert_ns, &cert.name) {
                Ok((pem, _names)) => {
                    has_certificate = true;
                    out.add_certificate(object, (cert_ns.to_owned(), cert.name.clone()), pem);
                }
                Err(why) => problems.push((
                    "InvalidCertificateRef",
                    format!("certificateRefs[{c}]: {why}"),
                )),
            }
        }
        if !has_certificate && problems.is_empty() {
            problems.push((
                "InvalidCertificateRef",
                "an HTTPS listener needs tls.certificateRefs".to_owned(),
            ));
        }
        if let Some((reason, _)) = problems.first() {
            let message: Vec<String> = problems.iter().map(|(_, m)| m.clone()).collect();
            resolved = Cond::no("ResolvedRefs", reason, message.join("; "));
            report.push(
                object,
                format!("spec.listeners[{position}].tls"),
                Outcome::Skipped,
                message.join("; "),
            );
        }
    }
    // Conflicts: two listeners of this Gateway on the same port with
    // different protocols, or the same protocol and hostname.
    let mut conflicted = Cond::no("Conflicted", "NoConflicts", "no conflicts");
    for (j, other) in all.iter().enumerate() {
        if j == position || other.port != spec.port {
            continue;
        }
        if other.protocol != spec.protocol {
            conflicted = Cond::yes(
                "Conflicted",
                "ProtocolConflict",
                format!(
                    "listener {} uses port {} with protocol {}",
                    other.name, other.port, other.protocol
                ),
            );
        } else if other.hostname == spec.hostname && j < position {
            conflicted = Cond::yes(
                "Conflicted",
                "HostnameConflict",
                format!(
                    "listener {} already serves this port and hostname",
                    other.name
                ),
            );
        }
    }
    let ready = accepted.status
        && !conflicted.status
        && (!https || has_certificate)
        && resolved.reason != "RefNotPermitted";
    let programmed = if ready {
        Cond::yes("Programmed", "Programmed", "listener programmed")
    } else {
        Cond::no("Programmed", "Invalid", "listener is not served")
    };
    let from = match spec
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref())
    {
        None => From::Same,
        Some(ns) => match ns.from {
            Some(GatewayListenersAllowedRoutesNamespacesFrom::All) => From::All,
            Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector) => {
                let selector = ns.selector.as_ref();
                let labels = selector
                    .and_then(|s| s.match_labels.clone())
                    .unwrap_or_default();
                let expressions = selector
                    .and_then(|s| s.match_expressions.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        (
                            e.key.clone(),
                            e.operator.clone(),
                            e.values.clone().unwrap_or_default(),
                        )
                    })
                    .collect();
                From::Selector(labels, expressions)
            }
            Some(GatewayListenersAllowedRoutesNamespacesFrom::Same) | None => From::Same,
        },
    };
    Listener {
        name: spec.name.clone(),
        port: spec.port,
        https,
        hostname: spec.hostname.clone(),
        from,
        takes_http_routes,
        ready,
        status: ListenerStatus {
            name: spec.name.clone(),
            attached_routes: 0,
            supported_kinds,
            conditions: vec![accepted, programmed, resolved, conflicted],
        },
    }
}
