//! Least request by the power of two choices.
//!
//! Two distinct endpoints are drawn at random, weighted by their weights, and
//! the one with fewer requests in flight wins (the first drawn on a tie).
//! Because the draw is already weighted, loads are compared raw: dividing by
//! the weight as well would count the weight twice. With idle endpoints the
//! result is a weighted random pick; under load, slow endpoints shed traffic.

use std::cmp::Ordering;

use super::effective_weight;
use std::sync::Arc;

use crate::upstream::endpoint::Endpoint;

/// Draws tried before falling back to a scan, which only happens when few
/// endpoints are allowed (e.g. most are ejected).
const DRAW_ATTEMPTS: usize = 8;

#[derive(Debug)]
pub struct LeastRequest {
    /// Running sums of the weights: endpoint `i` owns `[cum[i-1], cum[i])`.
    cumulative: Vec<u64>,
}

impl LeastRequest {
    pub fn new(endpoints: &[Arc<Endpoint>]) -> Self {
        let cumulative = endpoints
            .iter()
            .scan(0u64, |sum, e| {
                *sum = sum.saturating_add(effective_weight(e));
                Some(*sum)
            })
            .collect();
        Self { cumulative }
    }

    pub fn pick(&self, endpoints: &[Arc<Endpoint>], ok: impl Fn(usize) -> bool) -> Option<usize> {
        let total = *self.cumulative.last()?;
        let mut first: Option<usize> = None;
        for _ in 0..DRAW_ATTEMPTS {
            let r = fastrand::u64(..total);
            let i = self.cumulative.partition_point(|&c| c <= r);
            if !ok(i) {
                continue;
            }
            match first {
                None => first = Some(i),
                Some(a) if a == i => {}
                Some(a) => {
                    return Some(match load(endpoints, i).cmp(&load(endpoints, a)) {
                        Ordering::Less => i,
                        _ => a,
                    });
                }
            }
        }
        // Too few allowed endpoints for random draws to find two: take the
        // least loaded of all allowed ones (also correct when only one is).
        (0..self.cumulative.len())
            .filter(|&i| ok(i))
            .min_by_key(|&i| load(endpoints, i))
    }
}

fn load(endpoints: &[Arc<Endpoint>], i: usize) -> u32 {
    endpoints.get(i).map_or(u32::MAX, |e| e.in_flight())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::super::test_util::*;
    use super::*;

    #[test]
    fn idle_distribution_matches_weights() {
        let weights = [5, 3, 2];
        let eps = endpoints(&weights);
        let lr = LeastRequest::new(&eps);
        let counts = histogram(10_000, 3, || lr.pick(&eps, |_| true));
        assert_matches_weights(&counts, &weights, 0.03);
    }

    #[test]
    fn prefers_the_idle_endpoint() {
        let eps = endpoints(&[1, 1]);
        eps[0].in_flight.store(10, Relaxed);
        let lr = LeastRequest::new(&eps);
        // Two endpoints: every pick compares both, so the idle one always wins.
        for _ in 0..1_000 {
            assert_eq!(lr.pick(&eps, |_| true), Some(1));
        }
        // With many endpoints, one busy one is almost never chosen.
        let eps = endpoints(&[1; 10]);
        eps[3].in_flight.store(50, Relaxed);
        let lr = LeastRequest::new(&eps);
        let counts = histogram(10_000, 10, || lr.pick(&eps, |_| true));
        assert_eq!(counts[3], 0, "{counts:?}");
    }

    #[test]
    fn falls_back_to_a_scan_when_few_are_allowed() {
        let eps = endpoints(&[1; 100]);
        eps[42].in_flight.store(3, Relaxed);
        let lr = LeastRequest::new(&eps);
        for _ in 0..100 {
            assert_eq!(lr.pick(&eps, |i| i == 42), Some(42));
            let p = lr.pick(&eps, |i| i == 42 || i == 77);
            assert!(p == Some(77) || p == Some(42));
        }
        assert_eq!(lr.pick(&eps, |_| false), None);
    }
}
