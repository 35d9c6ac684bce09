//! Rate-limit state: GCRA decisions for every limit of one limit set of a
//! policy, taken atomically (all limits charged, or none), with refunds.
//!
//! [`MemoryRates`] is the embedded store: one [`BoundedState`] per limit.
//! Its decision is synchronous; the trait's future is ready at once.

use std::future::Future;

use crate::policy::rate_limit::gcra::{Gcra, Verdict};
use crate::state::StoreError;
use crate::state::bounded::BoundedState;

/// The outcome of one request against one limit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    /// Every limit accepted; hold the request `delay_ns` first (delay mode).
    Allow { delay_ns: u64 },
    /// Limit `limit` rejected; nothing was charged.
    Deny { limit: usize, retry_after_ns: u64 },
}

/// A store of GCRA state. `set` names the limit set (0 = `limits`, then
/// tiers, then schedule windows), `key` the client's key hash.
pub trait RateStore {
    /// Decides for one request: every limit must accept; a rejection by any
    /// limit charges none of them.
    fn decide(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
        now_ns: u64,
    ) -> impl Future<Output = Result<RateVerdict, StoreError>> + Send;

    /// Gives back one accepted request on every limit of the set (a later
    /// stage refused the request).
    fn refund(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Bounded in-memory state: `states[set][limit]`.
#[derive(Debug)]
pub struct MemoryRates {
    states: Vec<Vec<BoundedState>>,
}

impl MemoryRates {
    /// One bounded table of `max_keys` per limit; `shape[set]` is the
    /// number of limits in each set.
    pub fn new(shape: &[usize], max_keys: usize) -> Self {
        let states = shape
            .iter()
            .map(|&n| (0..n).map(|_| BoundedState::new(max_keys)).collect())
            .collect();
        Self { states }
    }

    /// The synchronous decision (the request path calls this directly).
    pub fn decide_now(&self, set: usize, key: u64, limits: &[Gcra], now: u64) -> RateVerdict {
        let Some(states) = self.states.get(set) else {
            return RateVerdict::Allow { delay_ns: 0 };
        };
        let mut delay_ns = 0;
        for (i, (gcra, state)) in limits.iter().zip(states).enumerate() {
            match state.with(key, now, |tat| gcra.check(tat, now)) {
                Verdict::Allow { delay_ns: d, .. } => delay_ns = delay_ns.max(d),
                Verdict::Deny { retry_after_ns } => {
                    // Give back what the earlier limits charged, so a
                    // rejection never consumes allowance.
                    for (g, s) in limits[..i].iter().zip(states) {
                        s.with(key, now, |tat| g.refund(tat));
                    }
                    return RateVerdict::Deny {
                        limit: i,
                        retry_after_ns,
                    };
                }
            }
        }
        RateVerdict::Allow { delay_ns }
    }

    /// The synchronous refund.
    pub fn refund_now(&self, set: usize, key: u64, limits: &[Gcra], now: u64) {
        if let Some(states) = self.states.get(set) {
            for (g, s) in limits.iter().zip(states) {
                s.with(key, now, |tat| g.refund(tat));
            }
        }
    }

    /// Keys tracked by each limit, and heap bytes per key.
    pub fn tracked(&self) -> Vec<(usize, f64)> {
        self.states
            .iter()
            .flatten()
            .map(|s| (s.len(), s.bytes_per_key()))
            .collect()
    }
}

impl RateStore for MemoryRates {
    fn decide(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
        now_ns: u64,
    ) -> impl Future<Output = Result<RateVerdict, StoreError>> + Send {
        std::future::ready(Ok(self.decide_now(set, key, limits, now_ns)))
    }

    fn refund(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        // The refund needs no clock: it only moves a TAT back; `u64::MAX`
        // as "now" keeps an existing entry and never stores a new one.
        self.refund_now(set, key, limits, u64::MAX);
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn limits() -> Vec<Gcra> {
        vec![
            Gcra::new(10, Duration::from_secs(1), 3, Duration::ZERO).unwrap(),
            Gcra::new(2, Duration::from_secs(1), 2, Duration::ZERO).unwrap(),
        ]
    }

    #[tokio::test]
    async fn a_rejection_by_a_later_limit_charges_no_limit() {
        let store = MemoryRates::new(&[2], 100);
        let l = limits();
        let now = 10 * S;
        for _ in 0..2 {
            let v = store.decide(0, 7, &l, now).await.unwrap();
            assert_eq!(v, RateVerdict::Allow { delay_ns: 0 });
        }
        // The second limit (burst 2) is full; the first (burst 3) has room.
        let v = store.decide(0, 7, &l, now).await.unwrap();
        assert!(matches!(v, RateVerdict::Deny { limit: 1, .. }), "{v:?}");
        // The first limit was given back: after the second refills (0.5 s),
        // one more passes both.
        let v = store.decide(0, 7, &l, now + S / 2).await.unwrap();
        assert_eq!(v, RateVerdict::Allow { delay_ns: 0 });
    }

    #[tokio::test]
    async fn refund_returns_one_request_on_every_limit() {
        let store = MemoryRates::new(&[2], 100);
        let l = limits();
        let now = 10 * S;
        store.decide(0, 1, &l, now).await.unwrap();
        store.decide(0, 1, &l, now).await.unwrap();
        assert!(matches!(
            store.decide(0, 1, &l, now).await.unwrap(),
            RateVerdict::Deny { .. }
        ));
        store.refund(0, 1, &l).await.unwrap();
        assert_eq!(
            store.decide(0, 1, &l, now).await.unwrap(),
            RateVerdict::Allow { delay_ns: 0 }
        );
    }

    #[test]
    fn an_unknown_set_allows() {
        let store = MemoryRates::new(&[1], 10);
        assert_eq!(
            store.decide_now(5, 1, &limits(), S),
            RateVerdict::Allow { delay_ns: 0 }
        );
    }
}
