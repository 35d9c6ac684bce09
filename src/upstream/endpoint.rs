//! One upstream endpoint and its live state.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::upstream::health::PassiveHealth;

#[derive(Debug)]
pub struct Endpoint {
    pub address: SocketAddr,
    pub weight: u32,
    pub health: PassiveHealth,
    /// Requests currently being served by this endpoint (least-request input).
    pub in_flight: AtomicU32,
}

impl Endpoint {
    pub fn new(address: SocketAddr, weight: u32) -> Self {
        Self {
            address,
            weight,
            health: PassiveHealth::default(),
            in_flight: AtomicU32::new(0),
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }
}
