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
        let group = backend.group.as_deref().unwrap_or("");
        let kind = backend.kind.as_deref().unwrap_or("Service");
        let target_ns = backend.namespace.as_deref().unwrap_or(namespace);
        let problem = if !group.is_empty() || kind != "Service" {
            Some((
                "InvalidKind",
                format!("{subject}: {group}/{kind} is not a Service"),
            ))
        } else if !refs::permitted(
            context.index,
            RefKind {
                group: GROUP,
                kind: "HTTPRoute",
            },
            namespace,
            RefKind {
                group: "",
                kind: "Service",
            },
            target_ns,
            &backend.name,
        ) {
            Some((
                "RefNotPermitted",
                format!(
                    "{subject}: no ReferenceGrant in {target_ns} lets this route use Service {}",
                    backend.name
                ),
            ))
        } else if backend.port.is_none() {
            Some((
                "BackendNotFound",
                format!("{subject}: a Service needs a port"),
            ))
        } else {
            let service = IngressServiceBackend {
                name: backend.name.clone(),
                port: Some(ServiceBackendPort {
                    number: backend.port,
                    name: None,
                }),
            };
            let owner = format!("httproute.{namespace}.{}", object.name);
            match ingress::service_backend_in(
                &owner,
                target_ns,
                &service,
                &IngressSettings::default(),
                context,
            ) {
                Ok(spec) => {
                    valid.push((spec.name.clone(), weight));
                    out.add_backend(object, spec);
                    None
                }
                Err(BackendError::NoEndpoints(why)) => {
                    report.push(
                        object,
                        subject.clone(),
                        Outcome::Skipped,
                        format!("{why}; its share answers 503"),
                    );
                    unavailable += weight;
                    None
                }
                Err(BackendError::NotFound(why) | BackendError::Invalid(why)) => {
                    Some(("BackendNotFound", format!("{subject}: {why}")))
                }
            }
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
