//! A rule's `backendRefs`: core Services by port number, weighted, across
//! namespaces only with a ReferenceGrant; the problems feed `ResolvedRefs`.

use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::networking::v1::{IngressServiceBackend, ServiceBackendPort};
use serde_json::{Map, Value, json};

use crate::provider::ObjectRef;
use crate::provider::kube::annotations::IngressSettings;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::GROUP;
use crate::provider::kube::gateway::refs::{self, RefKind};
use crate::provider::kube::ingress::{self, BackendError, Context};
use crate::provider::kube::report::{Outcome, Report};

/// The backend fields of rule `r`: `backend`, weighted `backends`, or a
/// 500 when no backendRef resolves (503 when they resolve to Services
/// without ready endpoints).
pub fn backends(
    object: &ObjectRef,
    route: &HttpRoute,
    r: usize,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
    problems: &mut Vec<(&'static str, String)>,
) -> Map<String, Value> {
    let namespace = object.namespace.as_str();
    let refs_ = route
        .spec
        .rules
        .as_ref()
        .and_then(|rules| rules.get(r))
        .and_then(|rule| rule.backend_refs.as_deref())
        .unwrap_or_default();
    let mut valid: Vec<(String, u32)> = Vec::new();
    let mut lost = 0u32;
    let mut unavailable = 0u32;
    for (b, backend) in refs_.iter().enumerate() {
        let subject = format!("spec.rules[{r}].backendRefs[{b}]");
        let weight = u32::try_from(backend.weight.unwrap_or(1)).unwrap_or(0);
        let target = Ref {
            group: backend.group.as_deref().unwrap_or(""),
            kind: backend.kind.as_deref().unwrap_or("Service"),
            namespace: backend.namespace.as_deref().unwrap_or(namespace),
            name: &backend.name,
            port: backend.port,
        };
        let problem = match resolve(object, &target, &subject, context, out) {
            Resolved::Backend(name) => {
                valid.push((name, weight));
                None
            }
            Resolved::NoEndpoints(why) => {
                report.push(
                    object,
                    subject.clone(),
                    Outcome::Skipped,
                    format!("{why}; its share answers 503"),
                );
                unavailable += weight;
                None
            }
            Resolved::Problem(reason, message) => Some((reason, message)),
        };
        if let Some((reason, message)) = problem {
            report.push(
                object,
                subject,
                Outcome::Skipped,
                format!("{message}; its share answers 500"),
            );
            problems.push((reason, message));
            lost += weight;
        }
    }
    let mut action = Map::new();
    let served: u32 = valid.iter().map(|(_, w)| w).sum();
    if served == 0 {
        let (status, body) = if unavailable > 0 && lost == 0 {
            (503, "backend unavailable\n")
        } else {
            (500, "no valid backend\n")
        };
        action.insert(
            "direct_response".into(),
            json!({"status": status, "body": body}),
        );
        return action;
    }
    if lost > 0 || unavailable > 0 {
        report.push(
            object,
            format!("spec.rules[{r}].backendRefs"),
            Outcome::Approximated,
            "the share of the backends that cannot serve goes to the others (the spec asks for 500 on it)",
        );
    }
    let valid: Vec<(String, u32)> = valid.into_iter().filter(|(_, w)| *w > 0).collect();
    if valid.len() == 1 {
        action.insert("backend".into(), json!(valid[0].0));
    } else {
        let split: Vec<Value> = valid
            .iter()
            .map(|(name, weight)| json!({"name": name, "weight": weight}))
            .collect();
        action.insert("backends".into(), json!(split));
    }
    action
}

/// A `backendRef` (or a mirror's), defaults applied.
pub struct Ref<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub port: Option<i32>,
}

pub enum Resolved {
    /// The model backend's name (added to the model).
    Backend(String),
    /// The Service exists without ready endpoints.
    NoEndpoints(String),
    /// `ResolvedRefs` reason and message.
    Problem(&'static str, String),
}

/// Resolves one reference from the HTTPRoute `object` to a Service.
pub fn resolve(
    object: &ObjectRef,
    target: &Ref<'_>,
    subject: &str,
    context: &Context<'_>,
    out: &mut Builder,
) -> Resolved {
    let (group, kind, target_ns) = (target.group, target.kind, target.namespace);
    if !group.is_empty() || kind != "Service" {
        return Resolved::Problem(
            "InvalidKind",
            format!("{subject}: {group}/{kind} is not a Service"),
        );
    }
    let from = RefKind {
        group: GROUP,
        kind: "HTTPRoute",
    };
    let to = RefKind {
        group: "",
        kind: "Service",
    };
    if !refs::permitted(
        context.index,
        from,
        &object.namespace,
        to,
        target_ns,
        target.name,
    ) {
        return Resolved::Problem(
            "RefNotPermitted",
            format!(
                "{subject}: no ReferenceGrant in {target_ns} lets this route use Service {}",
                target.name
            ),
        );
    }
    if target.port.is_none() {
        return Resolved::Problem(
            "BackendNotFound",
            format!("{subject}: a Service needs a port"),
        );
    }
    let service = IngressServiceBackend {
        name: target.name.to_owned(),
        port: Some(ServiceBackendPort {
            number: target.port,
            name: None,
        }),
    };
    let owner = format!("httproute.{}.{}", object.namespace, object.name);
    match ingress::service_backend_in(
        &owner,
        target_ns,
        &service,
        &IngressSettings::default(),
        context,
    ) {
        Ok(spec) => {
            let name = spec.name.clone();
            out.add_backend(object, spec);
            Resolved::Backend(name)
        }
        Err(BackendError::NoEndpoints(why)) => Resolved::NoEndpoints(why),
        Err(BackendError::NotFound(why) | BackendError::Invalid(why)) => {
            Resolved::Problem("BackendNotFound", format!("{subject}: {why}"))
        }
    }
}
