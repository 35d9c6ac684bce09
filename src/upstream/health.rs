//! Passive health: eject an endpoint after consecutive failures, with back-off.
//!
//! Fed by the forwarder after each upstream attempt and read by the balancer
//! on every pick, so all state is in atomics: no locks on the request path.
//!
//! Semantics (Envoy-style outlier ejection):
//! - `consecutive_failures` failures in a row eject the endpoint until
//!   `now + base_ejection × 2^(k-1)`, capped at `max_ejection`, where `k`
//!   counts ejections in a row; the failure counter restarts at zero;
//! - failures reported while the endpoint is ejected (requests that started
//!   before the ejection, or panic-mode picks) are ignored: they neither
//!   count towards the next ejection nor extend this one;
//! - once the period is over the endpoint is available again and needs a
//!   full `consecutive_failures` run to be ejected again, this time for twice
//!   as long;
//! - a success resets the failure counter, and — when it is reported after
//!   the ejection period — the ejection count `k` too, so a recovered endpoint
//!   starts again at `base_ejection`;
//! - `consecutive_failures == 0` disables ejection.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::spec::PassiveHealthSpec;
use crate::upstream::clock;

/// Thresholds from the backend's `health` spec.
#[derive(Debug, Clone, Copy)]
pub struct HealthPolicy {
    pub consecutive_failures: u32,
    pub base_ejection: Duration,
    pub max_ejection: Duration,
}

impl From<&PassiveHealthSpec> for HealthPolicy {
    fn from(spec: &PassiveHealthSpec) -> Self {
        Self {
            consecutive_failures: spec.consecutive_failures,
            base_ejection: spec.base_ejection,
            max_ejection: spec.max_ejection,
        }
    }
}

impl HealthPolicy {
    /// Length of the `k`-th ejection in a row (`k` ≥ 1), in milliseconds.
    pub fn ejection_ms(&self, k: u32) -> u64 {
        let base = duration_ms(self.base_ejection);
        let max = duration_ms(self.max_ejection);
        let doublings = k.saturating_sub(1).min(63);
        base.saturating_mul(1u64 << doublings).min(max)
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Lock-free per-endpoint health state.
#[derive(Debug, Default)]
pub struct PassiveHealth {
    /// Failures since the last success or ejection.
    failures: AtomicU32,
    /// Ejections in a row (the `k` of the back-off).
    ejections: AtomicU32,
    /// Ejected while `now_ms` is below this; 0 when never ejected.
    ejected_until: AtomicU64,
}

impl PassiveHealth {
    /// True unless the endpoint is ejected at `now_ms` (milliseconds on the
    /// process's monotonic clock, see `upstream::clock`).
    pub fn is_available(&self, now_ms: u64) -> bool {
        now_ms >= self.ejected_until.load(Ordering::Acquire)
    }

    /// End of the current or last ejection (0 if never ejected), for admin.
    pub fn ejected_until_ms(&self) -> u64 {
        self.ejected_until.load(Ordering::Acquire)
    }

    /// Ejections in a row so far.
    pub fn consecutive_ejections(&self) -> u32 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// Records a success at the process clock's current time.
    pub fn record_success(&self) {
        self.record_success_at(clock::now_ms());
    }

    /// Records a success at `now_ms` (see the module docs).
    pub fn record_success_at(&self, now_ms: u64) {
        // Load before storing: successes are the common case and an
        // unconditional store would bounce the cache line between cores.
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.ejections.load(Ordering::Relaxed) != 0 && self.is_available(now_ms) {
            self.ejections.store(0, Ordering::Relaxed);
        }
    }

    /// Returns true when this failure ejected the endpoint.
    pub fn record_failure(&self, now_ms: u64, policy: &HealthPolicy) -> bool {
        let threshold = policy.consecutive_failures;
        if threshold == 0 || !self.is_available(now_ms) {
            return false;
        }
        let count = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if count < threshold {
            return false;
        }
        // Several threads may cross the threshold together; whoever takes the
        // counter while it is still at or above it performs the ejection.
        if self.failures.swap(0, Ordering::AcqRel) < threshold {
            return false;
        }
        let previous = self
            .ejections
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |k| {
                Some(k.saturating_add(1))
            })
            .unwrap_or_else(|k| k);
        let until = now_ms.saturating_add(policy.ejection_ms(previous.saturating_add(1)));
        self.ejected_until.fetch_max(until, Ordering::AcqRel);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(failures: u32) -> HealthPolicy {
        HealthPolicy {
            consecutive_failures: failures,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(60),
        }
    }

    /// Fails until ejected, asserting it takes exactly `n` failures.
    fn eject(h: &PassiveHealth, now: u64, p: &HealthPolicy) {
        for i in 1..p.consecutive_failures {
            assert!(!h.record_failure(now, p), "ejected early at failure {i}");
            assert!(h.is_available(now));
        }
        assert!(h.record_failure(now, p));
        assert!(!h.is_available(now));
    }

    #[test]
    fn ejects_after_consecutive_failures_only() {
        let p = policy(3);
        let h = PassiveHealth::default();
        assert!(h.is_available(0));
        assert!(!h.record_failure(1, &p));
        assert!(!h.record_failure(2, &p));
        h.record_success_at(3);
        // The run was broken by a success: two more failures do not eject.
        assert!(!h.record_failure(4, &p));
        assert!(!h.record_failure(5, &p));
        assert!(h.is_available(5));
        assert!(h.record_failure(6, &p));
        assert!(!h.is_available(6));
        assert!(!h.is_available(10_005));
        assert!(h.is_available(10_006));
        assert_eq!(h.ejected_until_ms(), 10_006);
    }

    #[test]
    fn back_off_doubles_and_caps() {
        let p = policy(2);
        let h = PassiveHealth::default();
        let mut now = 1_000;
        for expected in [10_000, 20_000, 40_000, 60_000, 60_000] {
            eject(&h, now, &p);
            assert_eq!(h.ejected_until_ms() - now, expected);
            now = h.ejected_until_ms();
            assert!(h.is_available(now));
        }
        assert_eq!(h.consecutive_ejections(), 5);
    }

    #[test]
    fn after_ejection_a_single_failure_does_not_re_eject() {
        let p = policy(3);
        let h = PassiveHealth::default();
        eject(&h, 0, &p);
        assert!(!h.record_failure(10_000, &p));
        assert!(h.is_available(10_000));
    }

    #[test]
    fn failures_while_ejected_are_ignored() {
        let p = policy(2);
        let h = PassiveHealth::default();
        eject(&h, 0, &p);
        for t in 1..100 {
            assert!(!h.record_failure(t, &p));
        }
        assert_eq!(h.ejected_until_ms(), 10_000);
        // They did not count towards the next ejection either.
        assert!(!h.record_failure(10_000, &p));
        assert!(h.is_available(10_000));
    }

    #[test]
    fn success_after_ejection_resets_back_off() {
        let p = policy(1);
        let h = PassiveHealth::default();
        eject(&h, 0, &p);
        // A success while still ejected (a request that started earlier)
        // keeps the back-off level.
        h.record_success_at(5_000);
        eject(&h, 10_000, &p);
        assert_eq!(h.ejected_until_ms(), 30_000);
        // A success after the period starts over at the base.
        h.record_success_at(30_000);
        assert_eq!(h.consecutive_ejections(), 0);
        eject(&h, 31_000, &p);
        assert_eq!(h.ejected_until_ms(), 41_000);
    }

    #[test]
    fn zero_threshold_disables_ejection() {
        let p = policy(0);
        let h = PassiveHealth::default();
        for t in 0..1_000 {
            assert!(!h.record_failure(t, &p));
        }
        assert!(h.is_available(1_000));
    }

    #[test]
    fn extreme_policies_do_not_overflow() {
        let p = HealthPolicy {
            consecutive_failures: 1,
            base_ejection: Duration::MAX,
            max_ejection: Duration::MAX,
        };
        let h = PassiveHealth::default();
        assert!(h.record_failure(u64::MAX - 1, &p));
        assert_eq!(h.ejected_until_ms(), u64::MAX);
        assert_eq!(p.ejection_ms(u32::MAX), u64::MAX);
        assert_eq!(policy(1).ejection_ms(0), 10_000);
    }

    #[test]
    fn concurrent_failures_eject_once() {
        let p = policy(4);
        let h = std::sync::Arc::new(PassiveHealth::default());
        let ejections: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let h = &h;
                    s.spawn(move || u32::from(h.record_failure(0, &p)))
                })
                .collect();
            handles.into_iter().map(|j| j.join().unwrap()).sum()
        });
        assert_eq!(ejections, 1);
        assert!(!h.is_available(0));
    }
}
