//! One upstream endpoint and its live state, and the set of endpoints a
//! backend balances over.
//!
//! An endpoint's state (passive health, in-flight count, idle connections)
//! lives in the endpoint itself, behind an `Arc`. A new set built with
//! [`EndpointSet::update`] shares the endpoints that stay, so churn (pods
//! scaling, rolling updates, DNS answers changing) keeps their pools and
//! health; endpoints that leave are only referenced by requests still in
//! flight on them, which finish (the drain), and then are dropped with their
//! idle connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::config::spec::LoadBalancingSpec;
use crate::upstream::balance::Balancer;
use crate::upstream::h1::pool::Pool;
use crate::upstream::health::PassiveHealth;

#[derive(Debug)]
pub struct Endpoint {
    pub address: SocketAddr,
    pub weight: u32,
    pub health: PassiveHealth,
    /// Requests currently being served by this endpoint, until their
    /// response body ends (least-request input). Shared with [`InFlight`]
    /// guards that live in response bodies.
    pub in_flight: Arc<AtomicU32>,
    /// Idle keep-alive connections to this endpoint.
    pub(crate) pool: Arc<Pool>,
    /// The multiplexed connection of an HTTP/2 backend.
    pub(crate) h2: crate::upstream::h2::slot::H2Slot,
}

/// How idle connections are kept, per endpoint.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_idle: usize,
    pub idle: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_idle: 128,
            idle: Duration::from_secs(90),
        }
    }
}

impl Endpoint {
    pub fn new(address: SocketAddr, weight: u32) -> Self {
        Self::with_pool(address, weight, PoolSettings::default())
    }

    pub fn with_pool(address: SocketAddr, weight: u32, pool: PoolSettings) -> Self {
        Self {
            address,
            weight,
            health: PassiveHealth::default(),
            in_flight: Arc::new(AtomicU32::new(0)),
            pool: Arc::new(Pool::new(pool.max_idle, pool.idle)),
            h2: Default::default(),
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }
}

/// An immutable set of endpoints with the balancer built over it; a backend
/// swaps in a new set when its endpoints change.
#[derive(Debug)]
pub struct EndpointSet {
    pub endpoints: Vec<Arc<Endpoint>>,
    pub(crate) balancer: Balancer,
}

impl EndpointSet {
    pub fn new(
        balancing: &LoadBalancingSpec,
        wanted: &[(SocketAddr, u32)],
        pool: PoolSettings,
    ) -> Self {
        Self::update(None, balancing, wanted, pool)
    }

    /// A set holding `wanted` (address, weight) in order. Endpoints of
    /// `previous` with the same address and weight are shared, not rebuilt;
    /// duplicates in `wanted` collapse into the first.
    pub fn update(
        previous: Option<&EndpointSet>,
        balancing: &LoadBalancingSpec,
        wanted: &[(SocketAddr, u32)],
        pool: PoolSettings,
    ) -> Self {
        let mut kept: HashMap<(SocketAddr, u32), &Arc<Endpoint>> = previous
            .map(|p| {
                p.endpoints
                    .iter()
                    .map(|e| ((e.address, e.weight), e))
                    .collect()
            })
            .unwrap_or_default();
        let mut seen = std::collections::HashSet::with_capacity(wanted.len());
        let mut endpoints = Vec::with_capacity(wanted.len());
        for &(address, weight) in wanted {
            let weight = weight.max(1);
            if !seen.insert(address) {
                continue;
            }
            let endpoint = match kept.remove(&(address, weight)) {
                Some(existing) => Arc::clone(existing),
                None => Arc::new(Endpoint::with_pool(address, weight, pool)),
            };
            endpoints.push(endpoint);
        }
        let balancer = Balancer::new(balancing, &endpoints);
        Self {
            endpoints,
            balancer,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The (address, weight) pairs, in order.
    pub fn members(&self) -> Vec<(SocketAddr, u32)> {
        self.endpoints
            .iter()
            .map(|e| (e.address, e.weight))
            .collect()
    }
}

/// Counts one request against an endpoint for as long as it lives: from
/// the pick until the response body has been streamed (or dropped).
#[derive(Debug)]
pub struct InFlight(Arc<AtomicU32>);

impl InFlight {
    pub fn start(endpoint: &Endpoint) -> Self {
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(&endpoint.in_flight))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], 8080))
    }

    #[test]
    fn endpoints_that_stay_keep_their_state() {
        let lb = LoadBalancingSpec::RoundRobin;
        let pool = PoolSettings::default();
        let first = EndpointSet::new(&lb, &[(addr(1), 1), (addr(2), 1)], pool);
        let guard = InFlight::start(&first.endpoints[0]);
        let next = EndpointSet::update(Some(&first), &lb, &[(addr(1), 1), (addr(3), 1)], pool);
        assert!(Arc::ptr_eq(&first.endpoints[0], &next.endpoints[0]));
        assert_eq!(next.endpoints[0].in_flight(), 1);
        assert_eq!(next.endpoints[1].address, addr(3));
        assert_eq!(next.endpoints[1].in_flight(), 0);
        // The leaving endpoint lives on only in the old set (its drain).
        assert_eq!(Arc::strong_count(&first.endpoints[1]), 1);
        drop(guard);
        assert_eq!(next.endpoints[0].in_flight(), 0);
    }

    #[test]
    fn duplicates_collapse_and_zero_weight_counts_as_one() {
        let lb = LoadBalancingSpec::LeastRequest;
        let set = EndpointSet::new(
            &lb,
            &[(addr(1), 0), (addr(1), 5), (addr(2), 2)],
            PoolSettings::default(),
        );
        assert_eq!(set.members(), vec![(addr(1), 1), (addr(2), 2)]);
    }

    #[test]
    fn a_weight_change_is_a_new_endpoint() {
        let lb = LoadBalancingSpec::RoundRobin;
        let pool = PoolSettings::default();
        let first = EndpointSet::new(&lb, &[(addr(1), 1)], pool);
        let next = EndpointSet::update(Some(&first), &lb, &[(addr(1), 3)], pool);
        assert!(!Arc::ptr_eq(&first.endpoints[0], &next.endpoints[0]));
        assert_eq!(next.endpoints[0].weight, 3);
    }
}
