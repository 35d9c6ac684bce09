//! Watches (kube-rs watchers with backoff: resumable after `410 Gone`,
//! bookmarks on) feeding the index. A relist after a broken watch is
//! buffered and swapped in whole at its end, so served routes never drop
//! while it runs; if the API server goes away the index, and so the last
//! good configuration, stays as it was.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Client, Resource};
use futures_util::StreamExt;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use gateway_api::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch as tokio_watch};

use crate::provider::kube::index::{Index, Key, key_of};

/// A kind the index holds, and where.
pub trait Indexed:
    Resource<Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    fn map(index: &mut Index) -> &mut BTreeMap<Key, Self>;
}

macro_rules! indexed {
    ($kind:ty, $field:ident) => {
        impl Indexed for $kind {
            fn map(index: &mut Index) -> &mut BTreeMap<Key, Self> {
                &mut index.$field
            }
        }
    };
}
indexed!(Ingress, ingresses);
indexed!(Service, services);
indexed!(EndpointSlice, slices);
indexed!(Secret, secrets);
indexed!(Gateway, gateways);
indexed!(HttpRoute, http_routes);
indexed!(ReferenceGrant, reference_grants);
indexed!(crate::provider::kube::policy_crd::Policy, policies);

/// A cluster-scoped kind the index holds by name.
pub trait ClusterIndexed:
    Resource<Scope = k8s_openapi::ClusterResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    fn map(index: &mut Index) -> &mut BTreeMap<String, Self>;
}

macro_rules! cluster_indexed {
    ($kind:ty, $field:ident) => {
        impl ClusterIndexed for $kind {
            fn map(index: &mut Index) -> &mut BTreeMap<String, Self> {
                &mut index.$field
            }
        }
    };
}
cluster_indexed!(IngressClass, classes);
cluster_indexed!(GatewayClass, gateway_classes);
cluster_indexed!(Namespace, namespaces);

/// Starts one watcher of `K` per namespace (or one for all); each sends
/// `()` on `changed` after every update and counts itself in `synced`
/// after its first complete list.
pub fn start<K>(
    client: &Client,
    namespaces: &[String],
    config: watcher::Config,
    index: &Arc<Mutex<Index>>,
    changed: &mpsc::Sender<()>,
    synced: &tokio_watch::Sender<usize>,
) where
    K: Indexed,
    K::DynamicType: Default,
{
    let apis: Vec<(Option<String>, Api<K>)> = if namespaces.is_empty() {
        vec![(None, Api::all(client.clone()))]
    } else {
        namespaces
            .iter()
            .map(|ns| (Some(ns.clone()), Api::namespaced(client.clone(), ns)))
            .collect()
    };
    for (scope, api) in apis {
        let index = Arc::clone(index);
        let changed = changed.clone();
        let synced = synced.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let apply = move |index: &mut Index, change| {
                apply_indexed::<K>(index, scope.as_deref(), change)
            };
            run(
                watcher::watcher(api, config),
                &index,
                &changed,
                &synced,
                apply,
            )
            .await;
        });
    }
}

/// One watcher of the cluster-scoped kind `K`.
pub fn start_cluster<K>(
    client: &Client,
    index: &Arc<Mutex<Index>>,
    changed: &mpsc::Sender<()>,
    synced: &tokio_watch::Sender<usize>,
) where
    K: ClusterIndexed,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    let (index, changed, synced) = (Arc::clone(index), changed.clone(), synced.clone());
    tokio::spawn(async move {
        run(
            watcher::watcher(api, watcher::Config::default()),
            &index,
            &changed,
            &synced,
            apply_cluster::<K>,
        )
        .await;
    });
}

/// What one watch event does to the index.
enum Change<K> {
    Apply(K),
    Delete(K),
    Replace(Vec<K>),
}

/// `scope`: the namespace this watcher lists (all when `None`); a relist
/// replaces exactly what it covers.
fn apply_indexed<K: Indexed>(index: &mut Index, scope: Option<&str>, change: Change<K>) {
    let map = K::map(index);
    match change {
        Change::Apply(o) => {
            map.insert(key_of(&o), o);
        }
        Change::Delete(o) => {
            map.remove(&key_of(&o));
        }
        Change::Replace(all) => {
            map.retain(|(ns, _), _| scope.is_some_and(|s| s != ns));
            map.extend(all.into_iter().map(|o| (key_of(&o), o)));
        }
    }
}

fn apply_cluster<K: ClusterIndexed>(index: &mut Index, change: Change<K>) {
    let name = |o: &K| o.meta().name.clone().unwrap_or_default();
    let map = K::map(index);
    match change {
        Change::Apply(o) => {
            map.insert(name(&o), o);
        }
        Change::Delete(o) => {
            map.remove(&name(&o));
        }
        Change::Replace(all) => *map = all.into_iter().map(|o| (name(&o), o)).collect(),
    }
}

async fn run<K, S>(
    stream: S,
    index: &Mutex<Index>,
    changed: &mpsc::Sender<()>,
    synced: &tokio_watch::Sender<usize>,
    apply: impl Fn(&mut Index, Change<K>),
) where
    K: Clone + Send,
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Send,
{
    let stream = stream.default_backoff();
    futures_util::pin_mut!(stream);
    let mut buffer: Vec<K> = Vec::new();
    let mut counted = false;
    while let Some(event) = stream.next().await {
        let change = match event {
            Ok(Event::Apply(o)) => Change::Apply(o),
            Ok(Event::Delete(o)) => Change::Delete(o),
            Ok(Event::Init) => {
                buffer.clear();
                continue;
            }
            Ok(Event::InitApply(o)) => {
                buffer.push(o);
                continue;
            }
            Ok(Event::InitDone) => Change::Replace(std::mem::take(&mut buffer)),
            Err(e) => {
                // The backoff retries; the index keeps serving meanwhile.
                tracing::warn!(error = %e, "kubernetes watch failed; retrying");
                continue;
            }
        };
        let done = matches!(change, Change::Replace(_));
        if let Ok(mut index) = index.lock() {
            apply(&mut index, change);
        }
        if done && !counted {
            counted = true;
            synced.send_modify(|n| *n += 1);
        }
        // A full channel already has a reload queued.
        let _ = changed.try_send(());
    }
}
