//! The objects the provider knows, by kind and `namespace/name`: watches
//! update it, translation reads it. Pure data, so translation is testable
//! offline from YAML.

use std::collections::{BTreeMap, HashMap};

use ::kube::ResourceExt;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use gateway_api::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub type Key = (String, String);

#[derive(Debug, Clone, Default)]
pub struct Index {
    pub ingresses: BTreeMap<Key, Ingress>,
    pub classes: BTreeMap<String, IngressClass>,
    pub services: BTreeMap<Key, Service>,
    pub slices: BTreeMap<Key, EndpointSlice>,
    pub secrets: BTreeMap<Key, Secret>,
    /// Gateway API (standard channel), when its CRDs are installed.
    pub gateway_classes: BTreeMap<String, GatewayClass>,
    pub gateways: BTreeMap<Key, Gateway>,
    pub http_routes: BTreeMap<Key, HttpRoute>,
    pub reference_grants: BTreeMap<Key, ReferenceGrant>,
    /// Namespaces by name, for listeners' `allowedRoutes` selectors.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Portcullis `Policy` objects (`portcullis.dev/v1alpha1`).
    pub policies: BTreeMap<Key, crate::provider::kube::policy_crd::Policy>,
}

pub fn key_of<K: ResourceExt>(object: &K) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// The label EndpointSlices carry naming their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

impl Index {
    /// EndpointSlices grouped by the Service they belong to, built once per
    /// translation (a lookup per backend, not a scan).
    pub fn slices_by_service(&self) -> HashMap<(&str, &str), Vec<&EndpointSlice>> {
        let mut out: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
        for ((namespace, _), slice) in &self.slices {
            let service = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL));
            if let Some(service) = service {
                out.entry((namespace.as_str(), service.as_str()))
                    .or_default()
                    .push(slice);
            }
        }
        out
    }

    /// Loads objects from YAML text as `kubectl get -o yaml` prints it: a
    /// `List` (`items:`), or one or more documents separated by `---`.
    /// Unknown kinds are returned by name for the caller to report.
    pub fn load_yaml(&mut self, text: &str) -> Result<Vec<String>, String> {
        let mut ignored = Vec::new();
        for document in split_documents(text) {
            let doc = crate::config::yaml::parse(document).map_err(|e| e.message)?;
            let value = doc.value;
            if value.as_object().is_some_and(|o| o.is_empty()) {
                continue;
            }
            let items = match value.get("items").and_then(|i| i.as_array()) {
                Some(items) => items.clone(),
                None => vec![value],
            };
            for item in items {
                if let Some(kind) = self.insert_value(item)? {
                    ignored.push(kind);
                }
            }
        }
        Ok(ignored)
    }

    /// Inserts one object given as JSON; returns the kind when unknown.
    pub fn insert_value(&mut self, item: serde_json::Value) -> Result<Option<String>, String> {
        let kind = item
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        let parse_err = |e: serde_json::Error| format!("{kind}: {e}");
        match kind.as_str() {
            "Ingress" => {
                let o: Ingress = serde_json::from_value(item).map_err(parse_err)?;
                self.ingresses.insert(key_of(&o), o);
            }
            "IngressClass" => {
                let o: IngressClass = serde_json::from_value(item).map_err(parse_err)?;
                self.classes.insert(o.name_any(), o);
            }
            "Service" => {
                let o: Service = serde_json::from_value(item).map_err(parse_err)?;
                self.services.insert(key_of(&o), o);
            }
            "EndpointSlice" => {
                let o: EndpointSlice = serde_json::from_value(item).map_err(parse_err)?;
                self.slices.insert(key_of(&o), o);
            }
            "Secret" => {
                let o: Secret = serde_json::from_value(item).map_err(parse_err)?;
                self.secrets.insert(key_of(&o), o);
            }
            "GatewayClass" => {
                let o: GatewayClass = serde_json::from_value(item).map_err(parse_err)?;
                self.gateway_classes.insert(o.name_any(), o);
            }
            "Gateway" => {
                let o: Gateway = serde_json::from_value(item).map_err(parse_err)?;
                self.gateways.insert(key_of(&o), o);
            }
            "HTTPRoute" => {
                let o: HttpRoute = serde_json::from_value(item).map_err(parse_err)?;
                self.http_routes.insert(key_of(&o), o);
            }
            "ReferenceGrant" => {
                let o: ReferenceGrant = serde_json::from_value(item).map_err(parse_err)?;
                self.reference_grants.insert(key_of(&o), o);
            }
            "Policy" => {
                let o: crate::provider::kube::policy_crd::Policy =
                    serde_json::from_value(item).map_err(parse_err)?;
                self.policies.insert(key_of(&o), o);
            }
            "Namespace" => {
                let o: Namespace = serde_json::from_value(item).map_err(parse_err)?;
                self.namespaces.insert(o.name_any(), o);
            }
            _ => return Ok(Some(kind)),
        }
        Ok(None)
    }
}

/// Splits a YAML stream on `---` document markers.
fn split_documents(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            out.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    out.push(&text[start..]);
    out
}
