//! Kubernetes Events for findings that change what is served (an object or
//! path skipped, an annotation refused or not converted), attached to the
//! object, so `kubectl describe ingress` shows why. Each finding is
//! published once per process; kube-rs's recorder folds repeats into a
//! series.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use ::kube::Client;
use ::kube::runtime::events::{Event, EventType, Recorder, Reporter};
use k8s_openapi::api::core::v1::ObjectReference;
use tokio::sync::watch;

use crate::provider::kube::index::Index;
use crate::provider::kube::report::{Finding, Outcome};

/// Whether a finding is worth an Event.
pub fn noteworthy(finding: &Finding) -> bool {
    matches!(
        finding.outcome,
        Outcome::Skipped | Outcome::Refused | Outcome::NotConverted
    )
}

/// Publishes the findings sent on `findings` that were not published yet.
pub fn start(
    client: Client,
    index: Arc<Mutex<Index>>,
    mut findings: watch::Receiver<Vec<Finding>>,
) {
    let instance = std::env::var("POD_NAME").ok();
    let recorder = Recorder::new(
        client,
        Reporter {
            controller: "portcullis".into(),
            instance,
        },
    );
    tokio::spawn(async move {
        let mut published: BTreeSet<String> = BTreeSet::new();
        while findings.changed().await.is_ok() {
            let batch = findings.borrow_and_update().clone();
            for finding in batch.iter().filter(|f| noteworthy(f)) {
                let line = finding.to_string();
                if published.contains(&line) {
                    continue;
                }
                let key = (
                    finding.object.namespace.clone(),
                    finding.object.name.clone(),
                );
                let (api_version, uid) = match finding.object.kind.as_str() {
                    "HTTPRoute" => (
                        "gateway.networking.k8s.io/v1",
                        index.lock().ok().and_then(|i| {
                            i.http_routes.get(&key).and_then(|o| o.metadata.uid.clone())
                        }),
                    ),
                    "Gateway" => (
                        "gateway.networking.k8s.io/v1",
                        index.lock().ok().and_then(|i| {
                            i.gateways.get(&key).and_then(|o| o.metadata.uid.clone())
                        }),
                    ),
                    "Policy" => (
                        "portcullis.dev/v1alpha1",
                        index.lock().ok().and_then(|i| {
                            i.policies.get(&key).and_then(|o| o.metadata.uid.clone())
                        }),
                    ),
                    _ => (
                        "networking.k8s.io/v1",
                        index.lock().ok().and_then(|i| {
                            i.ingresses.get(&key).and_then(|o| o.metadata.uid.clone())
                        }),
                    ),
                };
                let reference = ObjectReference {
                    api_version: Some(api_version.into()),
                    kind: Some(finding.object.kind.clone()),
                    namespace: Some(finding.object.namespace.clone()),
                    name: Some(finding.object.name.clone()),
                    uid,
                    ..Default::default()
                };
                let reason = match finding.outcome {
                    Outcome::Refused => "Refused",
                    Outcome::NotConverted => "NotConverted",
                    _ => "Skipped",
                };
                // Event notes are limited to 1 kB by the API server.
                let mut note = format!("{}: {}", finding.subject, finding.detail);
                if note.len() > 1000 {
                    let mut cut = 1000;
                    while !note.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    note.truncate(cut);
                }
                let event = Event {
                    type_: EventType::Warning,
                    reason: reason.into(),
                    note: Some(note),
                    action: "Translate".into(),
                    secondary: None,
                };
                match recorder.publish(&event, &reference).await {
                    Ok(()) => {
                        published.insert(line);
                    }
                    Err(e) => {
                        tracing::warn!(object = %finding.object, error = %e, "cannot publish Event")
                    }
                }
            }
        }
    });
}
