//! Smooth weighted round robin, precomputed into a fixed pick sequence.
//!
//! nginx's smooth WRR interleaves heavy endpoints with light ones (weights
//! 5,1,1 give `a a b a c a a`, not `a a a a a b c`). Its state changes on every
//! pick, which would need a lock; instead one full cycle is computed at build
//! time and requests share an atomic cursor into it.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::effective_weight;
use std::sync::Arc;

use crate::upstream::endpoint::Endpoint;

/// Above this weight sum the weights are scaled down (each kept ≥ 1), so the
/// sequence stays small however large the configured weights are.
pub const MAX_SEQUENCE_WEIGHT: u64 = 10_000;

#[derive(Debug)]
pub struct RoundRobin {
    /// Endpoint indices in smooth-WRR order, one full cycle.
    sequence: Vec<u32>,
    cursor: AtomicUsize,
}

impl RoundRobin {
    pub fn new(endpoints: &[Arc<Endpoint>]) -> Self {
        let weights = scaled_weights(endpoints);
        Self {
            sequence: smooth_sequence(&weights),
            cursor: AtomicUsize::new(0),
        }
    }

    /// One cycle of the precomputed order (for tests and admin output).
    pub fn sequence(&self) -> &[u32] {
        &self.sequence
    }

    /// The next allowed endpoint in the sequence.
    ///
    /// Entries that `ok` rejects are skipped by advancing the shared cursor
    /// past them too, so over a cycle the remaining endpoints keep their
    /// relative weights (the entry after an ejected heavy endpoint does not
    /// inherit its share).
    pub fn pick(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let len = self.sequence.len();
        if len == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % len;
        let (skipped, index) = (0..len)
            .map(|step| (step, self.sequence[(start + step) % len] as usize))
            .find(|&(_, i)| ok(i))?;
        if skipped > 0 {
            self.cursor.fetch_add(skipped, Ordering::Relaxed);
        }
        Some(index)
    }
}

/// Effective weights, scaled proportionally when their sum is too large.
fn scaled_weights(endpoints: &[Arc<Endpoint>]) -> Vec<u64> {
    let weights: Vec<u64> = endpoints.iter().map(|e| effective_weight(e)).collect();
    let sum: u64 = weights.iter().sum();
    if sum <= MAX_SEQUENCE_WEIGHT {
        return weights;
    }
    weights
        .iter()
        .map(|w| (w * MAX_SEQUENCE_WEIGHT / sum).max(1))
        .collect()
}

/// One cycle of nginx's smooth weighted round robin: every step each endpoint
/// gains its weight, the one with the highest running total (first on ties)
/// is chosen and pays back the weight sum.
fn smooth_sequence(weights: &[u64]) -> Vec<u32> {
    let total: u64 = weights.iter().sum();
    let Ok(len) = usize::try_from(total) else {
        return Vec::new();
    };
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    let weights: Vec<i64> = weights
        .iter()
        .map(|&w| i64::try_from(w).unwrap_or(i64::MAX))
        .collect();
    let mut current = vec![0i64; weights.len()];
    let mut sequence = Vec::with_capacity(len);
    for _ in 0..len {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += w;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        // Endpoint counts come from configuration and fit u32 by far; an
        // index that did not would be unusable, so stop rather than wrap.
        let Ok(index) = u32::try_from(best) else {
            break;
        };
        sequence.push(index);
    }
    sequence
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn picks(rr: &RoundRobin, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + rr.pick(|_| true).unwrap() as u8))
            .collect()
    }

    #[test]
    fn exact_sequences() {
        let rr = RoundRobin::new(&endpoints(&[1, 1, 1]));
        assert_eq!(picks(&rr, 6), "abcabc");
        let rr = RoundRobin::new(&endpoints(&[5, 1, 1]));
        assert_eq!(picks(&rr, 14), "aabacaaaabacaa");
        let rr = RoundRobin::new(&endpoints(&[2, 1]));
        assert_eq!(picks(&rr, 6), "abaaba");
    }

    #[test]
    fn skips_rejected_entries() {
        let rr = RoundRobin::new(&endpoints(&[5, 1, 1]));
        // With `a` unavailable, b and c share the cycle equally.
        let s: String = (0..7)
            .map(|_| char::from(b'a' + rr.pick(|i| i != 0).unwrap() as u8))
            .collect();
        assert_eq!(s, "bcbcbcb");
        assert_eq!(rr.pick(|_| false), None);
    }

    #[test]
    fn distribution_matches_weights() {
        let weights = [7, 2, 1];
        let eps = endpoints(&weights);
        let rr = RoundRobin::new(&eps);
        let counts = histogram(10_000, 3, || rr.pick(|_| true));
        assert_matches_weights(&counts, &weights, 0.01);
    }

    #[test]
    fn huge_weights_are_scaled() {
        let weights = [u32::MAX, u32::MAX / 2, 1];
        let rr = RoundRobin::new(&endpoints(&weights));
        assert!(rr.sequence().len() as u64 <= MAX_SEQUENCE_WEIGHT + 3);
        let counts = histogram(rr.sequence().len(), 3, || rr.pick(|_| true));
        // Proportions survive scaling; the tiny endpoint keeps one slot.
        assert!(counts[0] > counts[1] * 19 / 10 && counts[0] < counts[1] * 21 / 10);
        assert_eq!(counts[2], 1);
    }
}
