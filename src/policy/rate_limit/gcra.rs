//! GCRA (generic cell rate algorithm): a token bucket stored as one number,
//! the theoretical arrival time (TAT) of the next request, in nanoseconds.
//!
//! Semantics (proved by the tests below):
//! - `interval = per / rate` is the cost of one request;
//! - a request at `now` is accepted when `max(TAT, now) + interval - now <=
//!   burst × interval`, i.e. a client at rest may send `burst` requests at
//!   once, then one every `interval`; over any window `W` starting at rest at
//!   most `burst + floor(W / interval)` requests are accepted;
//! - in delay mode a request that would exceed the bucket by at most
//!   `max_delay` is accepted late, by exactly that excess (nginx `limit_req`
//!   without `nodelay`); beyond it the request is rejected;
//! - a rejection does not change the state.

use std::time::Duration;

/// One compiled limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    interval: u64,
    tolerance: u64,
    max_delay: u64,
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; hold it `delay_ns` first. `remaining` requests could follow at once.
    Allow { delay_ns: u64, remaining: u64 },
    /// Rejected; a request after `retry_after_ns` would be accepted.
    Deny { retry_after_ns: u64 },
}

impl Gcra {
    /// `None` when the numbers cannot describe a limit (zero rate or burst,
    /// or a rate finer than one request per nanosecond).
    pub fn new(rate: u64, per: Duration, burst: u64, max_delay: Duration) -> Option<Self> {
        if rate == 0 || burst == 0 {
            return None;
        }
        let interval = u64::try_from(per.as_nanos() / u128::from(rate)).ok()?;
        if interval == 0 {
            return None;
        }
        Some(Self {
            interval,
            tolerance: interval.checked_mul(burst)?,
            max_delay: u64::try_from(max_delay.as_nanos()).ok()?,
        })
    }

    /// Decides for a request at `now` and updates `tat` when accepted.
    pub fn check(&self, tat: &mut u64, now: u64) -> Verdict {
        let new_tat = (*tat).max(now).saturating_add(self.interval);
        let ahead = new_tat - now;
        if ahead <= self.tolerance {
            *tat = new_tat;
            return Verdict::Allow {
                delay_ns: 0,
                remaining: (self.tolerance - ahead) / self.interval,
            };
        }
        let excess = ahead - self.tolerance;
        if excess <= self.max_delay {
            *tat = new_tat;
            return Verdict::Allow {
                delay_ns: excess,
                remaining: 0,
            };
        }
        Verdict::Deny {
            retry_after_ns: excess - self.max_delay,
        }
    }

    /// `(interval, tolerance, max_delay)` in nanoseconds, for a store that
    /// runs the same algorithm elsewhere (the Redis script).
    pub fn params(&self) -> (u64, u64, u64) {
        (self.interval, self.tolerance, self.max_delay)
    }

    /// The same limit for one of `n` replicas sharing it: rate and burst
    /// ÷ n (at least one request of burst).
    pub fn divided(&self, n: u64) -> Self {
        let n = n.max(1);
        let burst = (self.tolerance / self.interval / n).max(1);
        let interval = self.interval.saturating_mul(n);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst),
            max_delay: self.max_delay,
        }
    }

    /// Gives back one accepted request (when a later limit rejected it).
    pub fn refund(&self, tat: &mut u64) {
        *tat = tat.saturating_sub(self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn gcra(rate: u64, per_s: u64, burst: u64, delay_ms: u64) -> Gcra {
        Gcra::new(
            rate,
            Duration::from_secs(per_s),
            burst,
            Duration::from_millis(delay_ms),
        )
        .unwrap()
    }

    #[test]
    fn burst_at_once_then_one_per_interval() {
        let g = gcra(10, 1, 5, 0);
        let mut tat = 0;
        let now = 10 * S;
        for i in 0..5 {
            assert_eq!(
                g.check(&mut tat, now),
                Verdict::Allow {
                    delay_ns: 0,
                    remaining: 4 - i
                }
            );
        }
        assert_eq!(
            g.check(&mut tat, now),
            Verdict::Deny {
                retry_after_ns: S / 10
            }
        );
        assert!(matches!(
            g.check(&mut tat, now + S / 10),
            Verdict::Allow { .. }
        ));
        assert!(matches!(
            g.check(&mut tat, now + S / 10),
            Verdict::Deny { .. }
        ));
    }

    /// 4× overload for 10 s: accepted = rate × time + burst, within ±2%
    /// (exactly, with arrivals aligned this way).
    #[test]
    fn accuracy_under_overload() {
        let (rate, burst) = (100, 20);
        let g = gcra(rate, 1, burst, 0);
        let mut tat = 0;
        let start = 5 * S;
        let step = S / (4 * rate); // 4× the rate
        let mut accepted = 0u64;
        let mut now = start;
        while now < start + 10 * S {
            if matches!(g.check(&mut tat, now), Verdict::Allow { .. }) {
                accepted += 1;
            }
            now += step;
        }
        let expected = (rate * 10 + burst) as f64;
        let error = (accepted as f64 - expected).abs() / expected;
        assert!(error <= 0.02, "accepted {accepted}, expected {expected}");
    }

    #[test]
    fn delay_mode_queues_up_to_max_delay() {
        let g = gcra(10, 1, 1, 300);
        let mut tat = 0;
        let now = S;
        assert!(matches!(
            g.check(&mut tat, now),
            Verdict::Allow { delay_ns: 0, .. }
        ));
        for n in 1..=3 {
            assert_eq!(
                g.check(&mut tat, now),
                Verdict::Allow {
                    delay_ns: n * S / 10,
                    remaining: 0
                }
            );
        }
        assert_eq!(
            g.check(&mut tat, now),
            Verdict::Deny {
                retry_after_ns: S / 10
            }
        );
    }

    #[test]
    fn refund_and_invalid() {
        let g = gcra(1, 1, 1, 0);
        let mut tat = 0;
        assert!(matches!(g.check(&mut tat, S), Verdict::Allow { .. }));
        g.refund(&mut tat);
        assert!(matches!(g.check(&mut tat, S), Verdict::Allow { .. }));
        assert!(Gcra::new(0, Duration::from_secs(1), 1, Duration::ZERO).is_none());
        assert!(Gcra::new(1, Duration::from_secs(1), 0, Duration::ZERO).is_none());
        assert!(Gcra::new(2_000_000_000, Duration::from_secs(1), 1, Duration::ZERO).is_none());
    }
}
