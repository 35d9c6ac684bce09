//! A backend at runtime: a set of endpoints with live state, a balancer
//! over them, TLS and health settings.
//!
//! Backends are kept across config reloads while their spec is unchanged, so
//! pooled connections, health and balancer state survive a reload. When only
//! the endpoints change, the new backend shares the endpoints that stay (see
//! [`EndpointSet::update`]). The set itself sits behind an `ArcSwap`, so DNS
//! re-resolution swaps endpoints in without a reload; a request loads the
//! set once.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use http::HeaderName;

use crate::config::spec::{BackendSpec, HashKeySpec, LoadBalancingSpec};
use crate::listener::client_ip::ClientIp;
use crate::upstream::balance::consistent_hash;
use crate::upstream::dns::EndpointAddress;
use crate::upstream::endpoint::{EndpointSet, PoolSettings};
use crate::upstream::health::HealthPolicy;

#[derive(Debug)]
pub struct Backend {
    pub name: Arc<str>,
    pub spec: BackendSpec,
    /// The endpoints requests are balanced over now.
    endpoints: ArcSwap<EndpointSet>,
    /// Each spec endpoint parsed: an IP literal or a DNS name.
    pub(crate) addresses: Vec<EndpointAddress>,
    /// The last good addresses of each DNS-named spec endpoint (by index);
    /// `None` until the first answer. The lock serialises set updates; the
    /// request path never takes it.
    resolved: Mutex<Vec<Option<Vec<SocketAddr>>>>,
    pub(crate) health: HealthPolicy,
    hash_header: Option<HeaderName>,
    /// TLS to the endpoints; `None` for plain HTTP.
    pub(crate) tls: Option<crate::tls::client::BackendTls>,
}

impl Backend {
    /// Builds the runtime backend; the spec was validated already, so errors
    /// here are a second line of defence, reported by name.
    pub fn build(spec: &BackendSpec) -> Result<Self, String> {
        Self::build_from(spec, None)
    }

    /// Builds the backend for `spec`, sharing the endpoints (pools, health,
    /// in-flight counts) and the resolved DNS answers of `previous` that
    /// are still wanted.
    pub fn build_from(spec: &BackendSpec, previous: Option<&Backend>) -> Result<Self, String> {
        let mut addresses = Vec::with_capacity(spec.endpoints.len());
        for endpoint in &spec.endpoints {
            addresses.push(EndpointAddress::parse(&endpoint.address)?);
        }
        if addresses.is_empty() {
            return Err(format!("backend {:?} has no endpoints", spec.name));
        }
        // A name resolved before keeps its answer until the resolver's next one.
        let resolved: Vec<Option<Vec<SocketAddr>>> = addresses
            .iter()
            .map(|address| match address {
                EndpointAddress::Ip(_) => None,
                EndpointAddress::Name { .. } => previous.and_then(|p| p.answer_for(address)),
            })
            .collect();
        let hash_header = match &spec.load_balancing {
            LoadBalancingSpec::ConsistentHash(HashKeySpec::Header(name)) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("invalid hash header name {name:?}"))?,
            ),
            _ => None,
        };
        let tls = match &spec.tls {
            Some(tls) => Some(crate::tls::client::BackendTls::compile_for(
                tls,
                spec.protocol.is_h2(),
            )?),
            None => None,
        };
        let wanted = wanted(spec, &addresses, &resolved);
        let previous_set = previous.map(|p| p.endpoints.load_full());
        let set = EndpointSet::update(
            previous_set.as_deref(),
            &spec.load_balancing,
            &wanted,
            pool_settings(spec),
        );
        Ok(Self {
            name: spec.name.as_str().into(),
            spec: spec.clone(),
            endpoints: ArcSwap::from_pointee(set),
            addresses,
            resolved: Mutex::new(resolved),
            health: HealthPolicy {
                consecutive_failures: spec.health.consecutive_failures,
                base_ejection: spec.health.base_ejection,
                max_ejection: spec.health.max_ejection,
            },
            hash_header,
            tls,
        })
    }

    /// The current endpoint set; load it once per request.
    pub fn endpoints(&self) -> Guard<Arc<EndpointSet>> {
        self.endpoints.load()
    }

    /// Whether any endpoint is a DNS name (the resolver has work).
    pub fn has_names(&self) -> bool {
        self.addresses
            .iter()
            .any(|a| matches!(a, EndpointAddress::Name { .. }))
    }

    /// Records a DNS answer for spec endpoint `index` and swaps in the new
    /// set; endpoints that stay keep their state. Returns whether the set
    /// changed.
    pub fn set_resolved(&self, index: usize, mut answer: Vec<SocketAddr>) -> bool {
        answer.sort_unstable();
        answer.dedup();
        let Ok(mut resolved) = self.resolved.lock() else {
            return false;
        };
        match resolved.get_mut(index) {
            Some(slot) if slot.as_ref() != Some(&answer) => *slot = Some(answer),
            _ => return false,
        }
        let wanted = wanted(&self.spec, &self.addresses, &resolved);
        let current = self.endpoints.load_full();
        let next = EndpointSet::update(
            Some(&current),
            &self.spec.load_balancing,
            &wanted,
            pool_settings(&self.spec),
        );
        self.endpoints.store(Arc::new(next));
        true
    }

    /// The last answer this backend holds for the name in `address`.
    fn answer_for(&self, address: &EndpointAddress) -> Option<Vec<SocketAddr>> {
        let resolved = self.resolved.lock().ok()?;
        self.addresses
            .iter()
            .zip(resolved.iter())
            .find(|(a, answer)| *a == address && answer.is_some())
            .and_then(|(_, answer)| answer.clone())
    }

    /// The consistent-hash key for a request, when the backend hashes.
    pub fn hash_key(&self, client_ip: ClientIp, headers: &http::HeaderMap) -> Option<u64> {
        match &self.spec.load_balancing {
            LoadBalancingSpec::ConsistentHash(_) => {
                if let Some(name) = &self.hash_header
                    && let Some(value) = headers.get(name)
                {
                    return Some(consistent_hash::hash_key(value.as_bytes()));
                }
                Some(hash_ip(client_ip.addr()))
            }
            _ => None,
        }
    }
}

/// The (address, weight) list: literals as written, each name expanded to
/// its last good answer (nothing before the first one).
fn wanted(
    spec: &BackendSpec,
    addresses: &[EndpointAddress],
    resolved: &[Option<Vec<SocketAddr>>],
) -> Vec<(SocketAddr, u32)> {
    let mut out = Vec::with_capacity(addresses.len());
    for ((address, endpoint), answer) in addresses.iter().zip(&spec.endpoints).zip(resolved) {
        match address {
            EndpointAddress::Ip(ip) => out.push((*ip, endpoint.weight)),
            EndpointAddress::Name { .. } => {
                for ip in answer.iter().flatten() {
                    out.push((*ip, endpoint.weight));
                }
            }
        }
    }
    out
}

fn pool_settings(spec: &BackendSpec) -> PoolSettings {
    PoolSettings {
        max_idle: spec.max_idle_per_endpoint,
        idle: spec.timeouts.idle,
    }
}

fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => consistent_hash::hash_key(&v4.octets()),
        IpAddr::V6(v6) => consistent_hash::hash_key(&v6.octets()),
    }
}
