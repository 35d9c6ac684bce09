//! One upstream endpoint and its live state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

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
}

impl Endpoint {
    pub fn new(address: SocketAddr, weight: u32) -> Self {
        Self {
            address,
            weight,
            health: PassiveHealth::default(),
            in_flight: Arc::new(AtomicU32::new(0)),
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
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
