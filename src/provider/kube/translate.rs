//! The whole index lowered into one configuration value: select the
//! Ingresses of our class, translate each (oldest first, so the oldest wins
//! a conflict), then validate; an object whose entries fail validation is
//! skipped (its hosts fail closed with 503) and the rest translated again,
//! so one bad object never takes the others down.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::Ingress;

use crate::config::error::{ConfigError, ConfigErrors};
use crate::config::spec::GatewayConfig;
use crate::config::validate;
use crate::provider::kube::annotations;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway;
use crate::provider::kube::gateway::conditions::StatusSet;
use crate::provider::kube::index::Index;
use crate::provider::kube::ingress;
use crate::provider::kube::policy_crd;
use crate::provider::kube::report::{Outcome, Report};
use crate::provider::{Loaded, ObjectRef, Origins};

/// The legacy class annotation, still honoured.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// What the provider is and serves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// IngressClass name (`spec.ingressClassName`, legacy annotation).
    pub class: String,
    /// `spec.controller` of the IngressClasses that are ours.
    pub controller: String,
    /// Watched namespaces; all when empty.
    pub namespaces: Vec<String>,
    pub http_address: String,
    pub https_address: String,
    /// Admin, server, logging, extra listeners and policies.
    pub base: GatewayConfig,
    /// Take every Ingress whatever its class (the migrate command).
    pub any_class: bool,
    /// Backends reach Services by their cluster DNS name
    /// (`svc.ns.svc:port`) instead of EndpointSlices (the migrate command,
    /// which has no cluster to read endpoints from).
    pub service_dns: bool,
    /// `spec.controllerName` of the GatewayClasses that are ours.
    pub gateway_controller: String,
    /// The address published in Ingress and Gateway status.
    pub publish_address: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            class: "portcullis".into(),
            controller: "portcullis.dev/ingress-controller".into(),
            namespaces: Vec::new(),
            http_address: "0.0.0.0:8080".into(),
            https_address: "0.0.0.0:8443".into(),
            base: GatewayConfig {
                admin: Default::default(),
                server: Default::default(),
                listeners: Vec::new(),
                routes: Vec::new(),
                backends: Vec::new(),
                policies: Vec::new(),
                logging: Default::default(),
                feeds: Default::default(),
                remediation: Default::default(),
                state: Default::default(),
                anomaly: Default::default(),
            },
            any_class: false,
            service_dns: false,
            gateway_controller: "portcullis.dev/gateway-controller".into(),
            publish_address: None,
        }
    }
}

/// A translation: the value to serve, the report, and the Ingresses served.
#[derive(Debug, Clone)]
pub struct Translation {
    pub loaded: Loaded,
    pub report: Report,
    /// Ingresses with at least one route served (their status is written).
    pub accepted: Vec<ObjectRef>,
    /// Gateway API status to write.
    pub gateway: StatusSet,
}

pub fn ingress_ref(ingress: &Ingress) -> ObjectRef {
    ObjectRef {
        namespace: ingress.metadata.namespace.clone().unwrap_or_default(),
        kind: "Ingress".into(),
        name: ingress.metadata.name.clone().unwrap_or_default(),
    }
}

/// Whether `ingress` is ours: its class name, the legacy annotation, or no
/// class at all while our IngressClass is the cluster default.
pub fn is_ours(ingress: &Ingress, index: &Index, settings: &Settings) -> bool {
    if settings.any_class {
        return true;
    }
    let annotated = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION));
    let named = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_ref());
    match (named, annotated) {
        (Some(class), _) | (None, Some(class)) => *class == settings.class,
        (None, None) => index.classes.get(&settings.class).is_some_and(|c| {
            let ours = c.spec.as_ref().and_then(|s| s.controller.as_deref())
                == Some(settings.controller.as_str());
            let default = c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|v| v == "true");
            ours && default
        }),
    }
}

/// Translates `index`. Errors only when the base config itself is invalid.
pub fn translate(index: &Index, settings: &Settings) -> Result<Translation, ConfigErrors> {
    let mut excluded: BTreeMap<ObjectRef, String> = BTreeMap::new();
    let mut no_fail_closed: BTreeSet<ObjectRef> = BTreeSet::new();
    // Each pass excludes at least one more object, so this ends.
    loop {
        let (config, by_path, mut report, accepted, gateway) =
            build(index, settings, &excluded, &no_fail_closed)?;
        let origins = Origins::Objects {
            default: "kubernetes".into(),
            by_path,
        };
        let issues = validate::validate(&config);
        if issues.is_empty() {
            for (object, why) in &excluded {
                report.push(
                    object,
                    "object",
                    Outcome::Skipped,
                    format!("{why}; its hosts answer 503"),
                );
            }
            let accepted = accepted
                .into_iter()
                .filter(|o| !excluded.contains_key(o))
                .collect();
            return Ok(Translation {
                loaded: Loaded { config, origins },
                report,
                accepted,
                gateway,
            });
        }
        let mut progressed = false;
        let mut unowned: Vec<ConfigError> = Vec::new();
        for issue in &issues {
            let Origins::Objects { by_path, .. } = &origins else {
                break;
            };
            let owner = Origins::object_for(by_path, &issue.field).cloned();
            match owner {
                Some(object) if is_fail_closed(&config, &issue.field) => {
                    progressed |= no_fail_closed.insert(object);
                }
                Some(object) if !excluded.contains_key(&object) => {
                    excluded.insert(object, format!("{}: {}", issue.field, issue.message));
                    progressed = true;
                }
                _ => unowned.push(origins.error(&issue.field, issue.message.clone())),
            }
        }
        if !progressed {
            return Err(ConfigErrors(unowned));
        }
    }
}

fn is_fail_closed(config: &GatewayConfig, field: &str) -> bool {
    let Some(rest) = field.strip_prefix("routes[") else {
        return false;
    };
    let Some(i) = rest.split(']').next().and_then(|i| i.parse::<usize>().ok()) else {
        return false;
    };
    config
        .routes
        .get(i)
        .is_some_and(|r| r.name.contains(".fail-closed."))
}

type Built = (
    GatewayConfig,
    BTreeMap<String, ObjectRef>,
    Report,
    Vec<ObjectRef>,
    StatusSet,
);

fn build(
    index: &Index,
    settings: &Settings,
    excluded: &BTreeMap<ObjectRef, String>,
    no_fail_closed: &BTreeSet<ObjectRef>,
) -> Result<Built, ConfigErrors> {
    let mut report = Report::default();
    let mut out = Builder::default();
    let mut ingresses: Vec<&Ingress> = index
        .ingresses
        .values()
        .filter(|i| is_ours(i, index, settings))
        .filter(|i| {
            settings.namespaces.is_empty()
                || settings
                    .namespaces
                    .iter()
                    .any(|n| Some(n) == i.metadata.namespace.as_ref())
        })
        .collect();
    // Oldest first: the older object wins a host+path conflict.
    ingresses.sort_by(|a, b| {
        let at = |i: &Ingress| i.metadata.creation_timestamp.as_ref().map(|t| t.0);
        at(a)
            .cmp(&at(b))
            .then_with(|| ingress_ref(a).cmp(&ingress_ref(b)))
    });
    let slices = index.slices_by_service();
    let mut policies =
        policy_crd::collect(index, &settings.namespaces, excluded, &mut out, &mut report);
    let mut accepted = Vec::new();
    let mut skipped = Vec::new();
    for ingress in ingresses {
        let object = ingress_ref(ingress);
        let empty = BTreeMap::new();
        let annotations = ingress.metadata.annotations.as_ref().unwrap_or(&empty);
        let translated = annotations::translate(&object, annotations, &mut report).map(|mut s| {
            // `portcullis.dev/policies` names Policy objects of the Ingress's
            // namespace first, then base policies. An invalid Policy keeps
            // its plain name, unknown to the model: the Ingress fails closed.
            for name in &mut s.attached {
                let key = (object.namespace.clone(), name.clone());
                if let Some(model) = policies.by_name.get(&key).cloned() {
                    policies.note_ingress(&key, &object);
                    *name = model;
                } else if policies.invalid.contains(&key) {
                    policies.note_ingress(&key, &object);
                }
            }
            s
        });
        match translated {
            Ok(ingress_settings) if !excluded.contains_key(&object) => {
                let context = ingress::Context {
                    slices: &slices,
                    index,
                    service_dns: settings.service_dns,
                };
                ingress::translate(
                    &object,
                    ingress,
                    &ingress_settings,
                    &context,
                    &mut out,
                    &mut report,
                );
                accepted.push(object);
            }
            Ok(ingress_settings) => {
                // Excluded by validation: translated once more into a
                // scratch model only to keep its findings in the report.
                let context = ingress::Context {
                    slices: &slices,
                    index,
                    service_dns: settings.service_dns,
                };
                let mut scratch = Builder::default();
                ingress::translate(
                    &object,
                    ingress,
                    &ingress_settings,
                    &context,
                    &mut scratch,
                    &mut report,
                );
                skipped.push((object, ingress));
            }
            Err(_) => skipped.push((object, ingress)),
        }
    }
    let context = ingress::Context {
        slices: &slices,
        index,
        service_dns: settings.service_dns,
    };
    let mut gateway = gateway::translate(
        settings,
        &context,
        excluded,
        &mut policies,
        &mut out,
        &mut report,
    );
    gateway.status.policies = policies.status;
    // After every served object, so a skipped one never takes a host+path
    // from a good one.
    for (object, hosts) in &gateway.excluded_hosts {
        if no_fail_closed.contains(object) {
            continue;
        }
        let hosts = if hosts.is_empty() {
            vec![String::new()]
        } else {
            hosts.clone()
        };
        for (i, host) in hosts.iter().enumerate() {
            out.add_fail_closed(object, host, i);
        }
    }
    for (object, ingress) in skipped {
        if no_fail_closed.contains(&object) {
            continue;
        }
        let hosts: BTreeSet<String> = ingress
            .spec
            .iter()
            .flat_map(|s| s.rules.iter().flatten())
            .map(|r| r.host.clone().unwrap_or_default())
            .collect();
        for (i, host) in hosts.iter().enumerate() {
            out.add_fail_closed(&object, host, i);
        }
    }
    let (config, by_path) = out
        .finish(
            settings.base.clone(),
            &settings.http_address,
            &settings.https_address,
        )
        .map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: "kubernetes".into(),
                line: None,
                column: None,
                field: String::new(),
                message: e,
            }])
        })?;
    Ok((config, by_path, report, accepted, gateway.status))
}
