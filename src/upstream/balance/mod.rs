//! Load balancing: choose an endpoint of a backend for one request.
//!
//! Built once per backend when the configuration is compiled, then shared by
//! all requests: `pick` takes `&self`, keeps its state in atomics and does not
//! allocate.
//!
//! Every algorithm is run with a predicate saying which endpoint indices it
//! may return. The first pass allows endpoints that are available (not
//! ejected) and not excluded; if that finds nothing, a second pass ignores
//! health (panic mode). Weights of 0 are treated as 1: draining an endpoint is
//! done by removing it from the backend.

pub mod consistent_hash;
pub mod least_request;
pub mod round_robin;

use crate::config::spec::LoadBalancingSpec;
use std::sync::Arc;

use crate::upstream::endpoint::Endpoint;

pub use consistent_hash::{HashRing, hash_key};
pub use least_request::LeastRequest;
pub use round_robin::RoundRobin;

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
    RoundRobin(RoundRobin),
    LeastRequest(LeastRequest),
    ConsistentHash(HashRing),
}

impl Balancer {
    pub fn new(spec: &LoadBalancingSpec, endpoints: &[Arc<Endpoint>]) -> Self {
        match spec {
            LoadBalancingSpec::RoundRobin => Self::RoundRobin(RoundRobin::new(endpoints)),
            LoadBalancingSpec::LeastRequest => Self::LeastRequest(LeastRequest::new(endpoints)),
            // The key itself is extracted by the caller into `PickContext`.
            LoadBalancingSpec::ConsistentHash(_) => Self::ConsistentHash(HashRing::new(endpoints)),
        }
    }

    /// Index of the chosen endpoint. Ejected endpoints are skipped; when every
    /// candidate is ejected, one is chosen anyway (panic mode: better a try than
    /// a certain 502). `None` only when no endpoint is left after `exclude`.
    ///
    /// `endpoints` should be the slice the balancer was built from; indices
    /// outside it are never returned.
    pub fn pick(&self, endpoints: &[Arc<Endpoint>], ctx: PickContext) -> Option<usize> {
        let allowed = |i: usize| i < endpoints.len() && Some(i) != ctx.exclude;
        let healthy = |i: usize| allowed(i) && endpoints[i].health.is_available(ctx.now_ms);
        self.pick_with(endpoints, ctx, healthy)
            .or_else(|| self.pick_with(endpoints, ctx, allowed))
    }

    fn pick_with(
        &self,
        endpoints: &[Arc<Endpoint>],
        ctx: PickContext,
        ok: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        match self {
            Self::RoundRobin(rr) => rr.pick(ok),
            Self::LeastRequest(lr) => lr.pick(endpoints, ok),
            Self::ConsistentHash(ring) => ring.pick(ctx.hash_key.unwrap_or(0), ok),
        }
    }
}

/// Weights as the algorithms use them: never 0.
pub(crate) fn effective_weight(e: &Endpoint) -> u64 {
    u64::from(e.weight.max(1))
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::upstream::endpoint::Endpoint;
    use crate::upstream::health::HealthPolicy;

    pub fn endpoints(weights: &[u32]) -> Vec<Arc<Endpoint>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let addr: SocketAddr = format!("10.0.{}.{}:8080", i / 250, i % 250 + 1)
                    .parse()
                    .unwrap();
                Arc::new(Endpoint::new(addr, w))
            })
            .collect()
    }

    /// Ejects `e` until t = 10,000 ms.
    pub fn eject(e: &Endpoint) {
        let p = HealthPolicy {
            consecutive_failures: 1,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(10),
        };
        assert!(e.health.record_failure(0, &p));
    }

    /// Pick counts per endpoint over `n` picks.
    pub fn histogram(n: usize, len: usize, mut pick: impl FnMut() -> Option<usize>) -> Vec<usize> {
        let mut counts = vec![0; len];
        for _ in 0..n {
            counts[pick().unwrap()] += 1;
        }
        counts
    }

    /// Asserts `counts` are within `tolerance` (absolute share) of `weights`.
    pub fn assert_matches_weights(counts: &[usize], weights: &[u32], tolerance: f64) {
        let total: usize = counts.iter().sum();
        let wsum: u32 = weights.iter().sum();
        for (c, w) in counts.iter().zip(weights) {
            let got = *c as f64 / total as f64;
            let want = f64::from(*w) / f64::from(wsum);
            assert!(
                (got - want).abs() <= tolerance,
                "share {got:.3} vs weight share {want:.3} (counts {counts:?})"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::config::spec::HashKeySpec;

    fn all_specs() -> Vec<LoadBalancingSpec> {
        vec![
            LoadBalancingSpec::RoundRobin,
            LoadBalancingSpec::LeastRequest,
            LoadBalancingSpec::ConsistentHash(HashKeySpec::ClientIp),
        ]
    }

    fn ctx(key: u64) -> PickContext {
        PickContext {
            hash_key: Some(hash_key(&key.to_le_bytes())),
            exclude: None,
            now_ms: 1,
        }
    }

    #[test]
    fn skips_ejected_endpoints() {
        for spec in all_specs() {
            let eps = endpoints(&[1, 1, 1]);
            eject(&eps[1]);
            let b = Balancer::new(&spec, &eps);
            for k in 0..1_000 {
                assert_ne!(b.pick(&eps, ctx(k)), Some(1), "{spec:?}");
            }
            // After the ejection period it is picked again.
            let later = (0..1_000).any(|k| {
                b.pick(
                    &eps,
                    PickContext {
                        now_ms: 10_000,
                        ..ctx(k)
                    },
                ) == Some(1)
            });
            assert!(later, "{spec:?}");
        }
    }

    #[test]
    fn honours_exclude() {
        for spec in all_specs() {
            let eps = endpoints(&[1, 3]);
            let b = Balancer::new(&spec, &eps);
            for k in 0..1_000 {
                let c = PickContext {
                    exclude: Some(1),
                    ..ctx(k)
                };
                assert_eq!(b.pick(&eps, c), Some(0), "{spec:?}");
            }
            // Excluding the only endpoint leaves nothing.
            let one = endpoints(&[1]);
            let b = Balancer::new(&spec, &one);
            assert_eq!(
                b.pick(
                    &one,
                    PickContext {
                        exclude: Some(0),
                        ..ctx(0)
                    }
                ),
                None
            );
            assert_eq!(b.pick(&one, ctx(0)), Some(0));
        }
    }

    #[test]
    fn panic_mode_when_all_are_ejected() {
        for spec in all_specs() {
            let eps = endpoints(&[1, 1, 1]);
            eps.iter().for_each(|e| eject(e));
            let b = Balancer::new(&spec, &eps);
            let counts = histogram(3_000, 3, || b.pick(&eps, ctx(fastrand::u64(..))));
            assert!(counts.iter().all(|&c| c > 0), "{spec:?}: {counts:?}");
            // Exclude still holds in panic mode.
            for k in 0..100 {
                let c = PickContext {
                    exclude: Some(2),
                    ..ctx(k)
                };
                assert_ne!(b.pick(&eps, c), Some(2), "{spec:?}");
            }
            // One healthy endpoint takes everything.
            let eps2 = endpoints(&[1, 1, 1]);
            eject(&eps2[0]);
            eject(&eps2[2]);
            let b = Balancer::new(&spec, &eps2);
            for k in 0..100 {
                assert_eq!(b.pick(&eps2, ctx(k)), Some(1), "{spec:?}");
            }
        }
    }

    #[test]
    fn empty_backend_and_foreign_slices() {
        for spec in all_specs() {
            let none: Vec<Arc<Endpoint>> = Vec::new();
            let b = Balancer::new(&spec, &none);
            assert_eq!(b.pick(&none, ctx(1)), None, "{spec:?}");
            // Built for three, asked with one: never out of bounds.
            let eps = endpoints(&[1, 1, 1]);
            let b = Balancer::new(&spec, &eps);
            for k in 0..100 {
                assert!(
                    matches!(b.pick(&eps[..1], ctx(k)), Some(0) | None),
                    "{spec:?}"
                );
            }
        }
    }

    #[test]
    fn zero_weight_counts_as_one() {
        for spec in [
            LoadBalancingSpec::RoundRobin,
            LoadBalancingSpec::LeastRequest,
        ] {
            let eps = endpoints(&[0, 1]);
            let b = Balancer::new(&spec, &eps);
            let counts = histogram(10_000, 2, || b.pick(&eps, ctx(0)));
            assert_matches_weights(&counts, &[1, 1], 0.03);
        }
    }
}
