//! Ingress status: `status.loadBalancer.ingress` set to the published
//! address on every Ingress that is served, written only when it differs
//! (so a resync writes nothing). Every replica computes the same value, so
//! concurrent writers converge; see docs/kubernetes.md on leader election.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ::kube::api::{Patch, PatchParams};
use ::kube::{Api, Client};
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::provider::ObjectRef;
use crate::provider::kube::index::Index;

/// The `loadBalancer.ingress` entry for `address` (an IP or a host name).
pub fn load_balancer_entry(address: &str) -> Value {
    if address.parse::<IpAddr>().is_ok() {
        json!({"ip": address})
    } else {
        json!({"hostname": address})
    }
}

/// Whether `ingress` already publishes exactly `entry`.
fn up_to_date(ingress: &Ingress, entry: &Value) -> bool {
    let current = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    match current {
        Some(list) if list.len() == 1 => {
            serde_json::to_value(&list[0]).ok().as_ref() == Some(entry)
        }
        _ => false,
    }
}

/// Writes status for each accepted Ingress whenever `accepted` changes.
pub fn start(
    client: Client,
    address: String,
    index: Arc<Mutex<Index>>,
    mut accepted: watch::Receiver<Vec<ObjectRef>>,
) {
    let entry = load_balancer_entry(&address);
    tokio::spawn(async move {
        while accepted.changed().await.is_ok() {
            let objects = accepted.borrow_and_update().clone();
            for object in objects {
                let stale = index
                    .lock()
                    .ok()
                    .and_then(|i| {
                        i.ingresses
                            .get(&(object.namespace.clone(), object.name.clone()))
                            .cloned()
                    })
                    .is_some_and(|i| !up_to_date(&i, &entry));
                if !stale {
                    continue;
                }
                let api: Api<Ingress> = Api::namespaced(client.clone(), &object.namespace);
                let patch = json!({"status": {"loadBalancer": {"ingress": [entry]}}});
                if let Err(e) = api
                    .patch_status(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::warn!(object = %object, error = %e, "cannot write Ingress status");
                }
            }
        }
    });
}
