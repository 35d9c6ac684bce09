//! The Kubernetes provider: watches Ingresses (and the Services,
//! EndpointSlices, Secrets and IngressClasses they use) into an index, and
//! lowers the index into the provider-neutral model on every change.
//!
//! ```text
//! watch (per kind) ─▶ index ─▶ translate (pure) ─▶ Loaded ─▶ app reload (diff)
//!                                   └─▶ report (log) ─▶ status (loadBalancer)
//! ```

pub mod annotations;
pub mod builder;
pub mod events;
pub mod gateway;
pub mod gateway_status;
pub mod index;
pub mod ingress;
pub mod migrate;
pub mod policy_crd;
pub mod report;
pub mod status;
pub mod translate;
pub mod watch;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::kube::runtime::watcher;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use gateway_api::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use tokio::sync::{mpsc, watch as tokio_watch};

use crate::config::error::{ConfigError, ConfigErrors};
use crate::provider::kube::gateway::conditions::StatusSet;
use crate::provider::kube::index::Index;
use crate::provider::kube::report::Finding;
use crate::provider::kube::translate::Settings;
use crate::provider::{Loaded, ObjectRef, Provider};

/// Namespaced kinds watched (Ingress, Service, EndpointSlice, Secret); the
/// provider is ready once every watcher has listed once.
const NAMESPACED_KINDS: usize = 4;
/// With the Gateway API: Gateway, HTTPRoute, ReferenceGrant.
const GATEWAY_NAMESPACED_KINDS: usize = 3;

pub struct KubeProvider {
    settings: Settings,
    index: Arc<Mutex<Index>>,
    changes: Option<mpsc::Receiver<()>>,
    accepted: tokio_watch::Sender<Vec<ObjectRef>>,
    gateway_status: tokio_watch::Sender<StatusSet>,
    findings: tokio_watch::Sender<Vec<Finding>>,
    /// Findings already logged, so a resync does not repeat them.
    logged: BTreeSet<String>,
}

impl KubeProvider {
    /// Connects (in-cluster config, else `KUBECONFIG`), starts the watches
    /// and waits until each kind has been listed once (or `sync_timeout`).
    pub async fn start(
        mut settings: Settings,
        publish_address: Option<String>,
        sync_timeout: Duration,
    ) -> Result<Self, String> {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("kubernetes client: {e}"))?;
        settings.publish_address = publish_address.clone();
        let gateway_api = available::<GatewayClass>(&client, "Gateway API").await;
        let policy_crd = available::<policy_crd::Policy>(&client, "Policy CRD").await;
        let index = Arc::new(Mutex::new(Index::default()));
        let (changed, changes) = mpsc::channel(1);
        let (synced_tx, mut synced) = tokio_watch::channel(0usize);
        let namespaces = &settings.namespaces;
        let plain = watcher::Config::default();
        watch::start::<Ingress>(
            &client,
            namespaces,
            plain.clone(),
            &index,
            &changed,
            &synced_tx,
        );
        watch::start::<Service>(
            &client,
            namespaces,
            plain.clone(),
            &index,
            &changed,
            &synced_tx,
        );
        watch::start::<EndpointSlice>(
            &client,
            namespaces,
            plain.clone(),
            &index,
            &changed,
            &synced_tx,
        );
        // Only TLS Secrets: least privilege, and no other secret in memory.
        let tls_only = plain.clone().fields("type=kubernetes.io/tls");
        watch::start::<Secret>(&client, namespaces, tls_only, &index, &changed, &synced_tx);
        watch::start_cluster::<IngressClass>(&client, &index, &changed, &synced_tx);
        let mut kinds = NAMESPACED_KINDS;
        let mut cluster_kinds = 1;
        if gateway_api {
            watch::start::<Gateway>(
                &client,
                namespaces,
                plain.clone(),
                &index,
                &changed,
                &synced_tx,
            );
            watch::start::<HttpRoute>(
                &client,
                namespaces,
                plain.clone(),
                &index,
                &changed,
                &synced_tx,
            );
            watch::start::<ReferenceGrant>(
                &client,
                namespaces,
                plain.clone(),
                &index,
                &changed,
                &synced_tx,
            );
            watch::start_cluster::<GatewayClass>(&client, &index, &changed, &synced_tx);
            watch::start_cluster::<Namespace>(&client, &index, &changed, &synced_tx);
            kinds += GATEWAY_NAMESPACED_KINDS;
            cluster_kinds += 2;
        }
        if policy_crd {
            watch::start::<policy_crd::Policy>(
                &client,
                namespaces,
                plain.clone(),
                &index,
                &changed,
                &synced_tx,
            );
            kinds += 1;
        }
        // One watcher per namespaced kind and namespace, one per cluster kind.
        let watchers = kinds * namespaces.len().max(1) + cluster_kinds;
        let waited = tokio::time::timeout(sync_timeout, synced.wait_for(|n| *n >= watchers));
        if waited.await.is_err() {
            return Err(format!(
                "kubernetes: the watches did not list within {}s (API server reachable? RBAC?)",
                sync_timeout.as_secs()
            ));
        }
        let (accepted, accepted_rx) = tokio_watch::channel(Vec::new());
        if let Some(address) = publish_address {
            status::start(client.clone(), address, Arc::clone(&index), accepted_rx);
        }
        let (gateway_status, gateway_rx) = tokio_watch::channel(StatusSet::default());
        if gateway_api || policy_crd {
            gateway_status::start(
                client.clone(),
                Arc::clone(&index),
                settings.gateway_controller.clone(),
                gateway_rx,
            );
        }
        let (findings, findings_rx) = tokio_watch::channel(Vec::new());
        events::start(client, Arc::clone(&index), findings_rx);
        Ok(Self {
            settings,
            index,
            changes: Some(changes),
            accepted,
            gateway_status,
            findings,
            logged: BTreeSet::new(),
        })
    }

    fn log_new(&mut self, findings: &[Finding]) {
        let current: BTreeSet<String> = findings.iter().map(ToString::to_string).collect();
        for line in current.difference(&self.logged) {
            tracing::warn!(target: "portcullis::kubernetes", "{line}");
        }
        self.logged = current;
    }
}

/// Whether the CRD of `K` is installed and readable: without the Gateway
/// API the provider serves Ingresses only, without the Policy CRD no
/// Policy objects (and says so).
async fn available<K>(client: &kube::Client, what: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: kube::Api<K> = kube::Api::all(client.clone());
    match api.list(&kube::api::ListParams::default().limit(1)).await {
        Ok(_) => true,
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 403 => {
            tracing::warn!(
                target: "portcullis::kubernetes",
                code = e.code,
                "{what} not served: its CRDs are not installed (404) or not readable (403)"
            );
            false
        }
        // Transient: the watches retry.
        Err(_) => true,
    }
}

impl Provider for KubeProvider {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn load(&mut self) -> Result<Loaded, ConfigErrors> {
        let translated = match self.index.lock() {
            Ok(index) => translate::translate(&index, &self.settings),
            Err(_) => Err(ConfigErrors(vec![ConfigError {
                file: "kubernetes".into(),
                line: None,
                column: None,
                field: String::new(),
                message: "index lock poisoned".into(),
            }])),
        }?;
        self.log_new(&translated.report.findings);
        let _ = self.accepted.send(translated.accepted);
        let _ = self.gateway_status.send(translated.gateway);
        let _ = self.findings.send(translated.report.findings);
        Ok(translated.loaded)
    }

    fn changes(&mut self) -> Option<mpsc::Receiver<()>> {
        self.changes.take()
    }
}
