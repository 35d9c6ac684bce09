//! A backend at runtime: endpoints with live state, a balancer, a pool.
//!
//! Backends are kept across config reloads while their spec is unchanged, so
//! pooled connections, health and balancer state survive a reload.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderName;

use crate::config::spec::{BackendSpec, HashKeySpec, LoadBalancingSpec};
use crate::listener::client_ip::ClientIp;
use crate::upstream::balance::{Balancer, consistent_hash};
use crate::upstream::endpoint::Endpoint;
use crate::upstream::h1::pool::Pool;
use crate::upstream::health::HealthPolicy;

#[derive(Debug)]
pub struct Backend {
    pub name: Arc<str>,
    pub spec: BackendSpec,
    pub endpoints: Vec<Endpoint>,
    pub(crate) balancer: Balancer,
    pub(crate) health: HealthPolicy,
    /// Idle keep-alive connections, per endpoint.
    pub(crate) pool: Arc<Pool>,
    hash_header: Option<HeaderName>,
    /// TLS to the endpoints; `None` for plain HTTP.
    pub(crate) tls: Option<crate::tls::client::BackendTls>,
}

impl Backend {
    /// Builds the runtime backend; the spec was validated already, so errors
    /// here are a second line of defence, reported by name.
    pub fn build(spec: &BackendSpec) -> Result<Self, String> {
        let mut endpoints = Vec::with_capacity(spec.endpoints.len());
        for endpoint in &spec.endpoints {
            let address: SocketAddr = endpoint
                .address
                .parse()
                .map_err(|_| format!("endpoint {:?} is not IP:port", endpoint.address))?;
            endpoints.push(Endpoint::new(address, endpoint.weight.max(1)));
        }
        if endpoints.is_empty() {
            return Err(format!("backend {:?} has no endpoints", spec.name));
        }
        let hash_header = match &spec.load_balancing {
            LoadBalancingSpec::ConsistentHash(HashKeySpec::Header(name)) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("invalid hash header name {name:?}"))?,
            ),
            _ => None,
        };
        let balancer = Balancer::new(&spec.load_balancing, &endpoints);
        let tls = match &spec.tls {
            Some(tls) => Some(crate::tls::client::BackendTls::compile(tls)?),
            None => None,
        };
        Ok(Self {
            name: spec.name.as_str().into(),
            spec: spec.clone(),
            pool: Arc::new(Pool::new(
                endpoints.len(),
                spec.max_idle_per_endpoint,
                spec.timeouts.idle,
            )),
            endpoints,
            balancer,
            health: HealthPolicy {
                consecutive_failures: spec.health.consecutive_failures,
                base_ejection: spec.health.base_ejection,
                max_ejection: spec.health.max_ejection,
            },
            hash_header,
            tls,
        })
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

fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => consistent_hash::hash_key(&v4.octets()),
        IpAddr::V6(v6) => consistent_hash::hash_key(&v6.octets()),
    }
}
