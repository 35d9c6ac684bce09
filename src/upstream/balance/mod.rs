//! Load balancing: choose an endpoint of a backend for one request.

pub mod consistent_hash;

use crate::config::spec::LoadBalancingSpec;
use crate::upstream::endpoint::Endpoint;

/// What a pick may depend on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PickContext {
    /// Hash of the consistent-hash key (client IP or header), when the mode uses one.
    pub hash_key: Option<u64>,
    /// An endpoint not to pick (the one a retry is moving away from).
    pub exclude: Option<usize>,
    /// Monotonic milliseconds, for health checks.
    pub now_ms: u64,
}

#[derive(Debug)]
pub enum Balancer {
    _Todo,
}

impl Balancer {
    pub fn new(spec: &LoadBalancingSpec, endpoints: &[Endpoint]) -> Self {
        let _ = (spec, endpoints);
        todo!("H3")
    }

    /// Index of the chosen endpoint. Ejected endpoints are skipped; when every
    /// candidate is ejected, one is chosen anyway (panic mode: better a try than
    /// a certain 502). `None` only when no endpoint is left after `exclude`.
    pub fn pick(&self, endpoints: &[Endpoint], ctx: PickContext) -> Option<usize> {
        let _ = (endpoints, ctx);
        todo!("H3")
    }
}
