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
pub mod index;
pub mod ingress;
pub mod migrate;
pub mod report;
pub mod status;
pub mod translate;
pub mod watch;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::kube::runtime::watcher;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use tokio::sync::{mpsc, watch as tokio_watch};

use crate::config::error::{ConfigError, ConfigErrors};
use crate::provider::kube::index::Index;
use crate::provider::kube::report::Finding;
use crate::provider::kube::translate::Settings;
use crate::provider::{Loaded, ObjectRef, Provider};

/// Namespaced kinds watched (Ingress, Service, EndpointSlice, Secret); the
/// provider is ready once every watcher has listed once.
const NAMESPACED_KINDS: usize = 4;

pub struct KubeProvider {
    settings: Settings,
    index: Arc<Mutex<Index>>,
    changes: Option<mpsc::Receiver<()>>,
    accepted: tokio_watch::Sender<Vec<ObjectRef>>,
    findings: tokio_watch::Sender<Vec<Finding>>,
    /// Findings already logged, so a resync does not repeat them.
    logged: BTreeSet<String>,
}

impl KubeProvider {
    /// Connects (in-cluster config, else `KUBECONFIG`), starts the watches
    /// and waits until each kind has been listed once (or `sync_timeout`).
    pub async fn start(
        settings: Settings,
        publish_address: Option<String>,
        sync_timeout: Duration,
    ) -> Result<Self, String> {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("kubernetes client: {e}"))?;
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
        watch::start_classes(&client, &index, &changed, &synced_tx);
        // One watcher per namespaced kind and namespace, one for classes.
        let watchers = NAMESPACED_KINDS * namespaces.len().max(1) + 1;
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
        let (findings, findings_rx) = tokio_watch::channel(Vec::new());
        events::start(client, Arc::clone(&index), findings_rx);
        Ok(Self {
            settings,
            index,
            changes: Some(changes),
            accepted,
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
        let _ = self.findings.send(translated.report.findings);
        Ok(translated.loaded)
    }

    fn changes(&mut self) -> Option<mpsc::Receiver<()>> {
        self.changes.take()
    }
}
