//! A backend at runtime: endpoints with live state, a balancer, a pool.
//!
//! Backends are kept across config reloads while their spec is unchanged, so
//! pooled connections, health and balancer state survive a reload.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderName;
use http::uri::Authority;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::spec::{BackendSpec, HashKeySpec, LoadBalancingSpec};
use crate::http::body::RequestBody;
use crate::listener::client_ip::ClientIp;
use crate::upstream::balance::{Balancer, consistent_hash};
use crate::upstream::endpoint::Endpoint;
use crate::upstream::health::HealthPolicy;

pub type UpstreamClient = Client<HttpConnector, RequestBody>;

#[derive(Debug)]
pub struct Backend {
    pub name: Arc<str>,
    pub spec: BackendSpec,
    pub endpoints: Vec<Endpoint>,
    pub(crate) authorities: Vec<Authority>,
    pub(crate) balancer: Balancer,
    pub(crate) health: HealthPolicy,
    pub(crate) client: UpstreamClient,
    hash_header: Option<HeaderName>,
}

impl Backend {
    /// Builds the runtime backend; the spec was validated already, so errors
    /// here are a second line of defence, reported by name.
    pub fn build(spec: &BackendSpec) -> Result<Self, String> {
        let mut endpoints = Vec::with_capacity(spec.endpoints.len());
        let mut authorities = Vec::with_capacity(spec.endpoints.len());
        for endpoint in &spec.endpoints {
            let address: SocketAddr = endpoint
                .address
                .parse()
                .map_err(|_| format!("endpoint {:?} is not IP:port", endpoint.address))?;
            let authority = Authority::try_from(address.to_string().as_str())
                .map_err(|e| format!("endpoint {address}: {e}"))?;
            endpoints.push(Endpoint::new(address, endpoint.weight.max(1)));
            authorities.push(authority);
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
        Ok(Self {
            name: spec.name.as_str().into(),
            spec: spec.clone(),
            endpoints,
            authorities,
            balancer,
            health: HealthPolicy {
                consecutive_failures: spec.health.consecutive_failures,
                base_ejection: spec.health.base_ejection,
                max_ejection: spec.health.max_ejection,
            },
            client: build_client(spec),
            hash_header,
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

fn build_client(spec: &BackendSpec) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(spec.timeouts.connect));
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(spec.timeouts.idle)
        .pool_max_idle_per_host(spec.max_idle_per_endpoint)
        // The client's own Host header is forwarded; h2 clients get one made
        // from :authority in the pipeline.
        .set_host(false)
        .build(connector)
}
