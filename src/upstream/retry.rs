//! A route's retry policy and its budget.
//!
//! The budget keeps retries to a share of the route's recent requests, so
//! a failing backend sees at most `1 + percent/100` times its normal load
//! (plus `min_per_second`), never `attempts + 1` times: retries help with
//! the odd failure and stay out of the way of an outage. Its state is ten
//! one-second slots of atomic counters: recording a request is one or two
//! relaxed atomic operations, and nothing is locked.

use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

use crate::config::spec_route::RetrySpec;

/// The window the budget looks back over, in one-second slots.
const WINDOW_SECS: u64 = 10;

#[derive(Debug)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    pub connect_failure: bool,
    /// 502, 503, 504 as bits 0, 1, 2.
    codes: u8,
    pub per_try_timeout: Option<std::time::Duration>,
    pub budget: RetryBudget,
}

impl RetryPolicy {
    /// Errors are `(field relative to `retries`, message)`.
    pub fn compile(spec: &RetrySpec) -> Result<Self, (String, String)> {
        if !(1..=10).contains(&spec.attempts) {
            return Err(("attempts".into(), "must be between 1 and 10".into()));
        }
        let mut codes = 0u8;
        for (i, code) in spec.codes.iter().enumerate() {
            codes |= match code {
                502 => 1,
                503 => 2,
                504 => 4,
                _ => {
                    return Err((
                        format!("codes[{i}]"),
                        format!("{code} is not retried; use 502, 503 or 504"),
                    ));
                }
            };
        }
        if spec.per_try_timeout.is_some_and(|t| t.is_zero()) {
            return Err(("per_try_timeout".into(), "must be greater than 0".into()));
        }
        if spec.budget.percent > 100 {
            return Err(("budget.percent".into(), "must be between 0 and 100".into()));
        }
        Ok(Self {
            attempts: spec.attempts,
            connect_failure: spec.connect_failure,
            codes,
            per_try_timeout: spec.per_try_timeout,
            budget: RetryBudget::new(spec.budget.percent, spec.budget.min_per_second),
        })
    }

    /// Whether a backend answer with `status` is worth another try.
    pub fn retries_status(&self, status: StatusCode) -> bool {
        match status.as_u16() {
            502 => self.codes & 1 != 0,
            503 => self.codes & 2 != 0,
            504 => self.codes & 4 != 0,
            _ => false,
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// The second (since the clock's epoch) the counts belong to.
    second: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

#[derive(Debug)]
pub struct RetryBudget {
    percent: u64,
    min_per_second: u64,
    slots: [Slot; WINDOW_SECS as usize],
}

impl RetryBudget {
    pub fn new(percent: u32, min_per_second: u32) -> Self {
        Self {
            percent: u64::from(percent),
            min_per_second: u64::from(min_per_second),
            slots: Default::default(),
        }
    }

    /// The slot of `second`, cleared when it last held an older second.
    /// Two requests may race on the clearing; the budget is then off by
    /// the few counts of that instant, which is harmless.
    fn slot(&self, second: u64) -> &Slot {
        let slot = &self.slots[(second % WINDOW_SECS) as usize];
        let seen = slot.second.load(Ordering::Relaxed);
        if seen != second
            && slot
                .second
                .compare_exchange(seen, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            slot.requests.store(0, Ordering::Relaxed);
            slot.retries.store(0, Ordering::Relaxed);
        }
        slot
    }

    /// Counts a request of the route (first tries only).
    pub fn record_request(&self, now_ms: u64) {
        self.slot(now_ms / 1000)
            .requests
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget if it has one.
    pub fn try_retry(&self, now_ms: u64) -> bool {
        let second = now_ms / 1000;
        let current = self.slot(second);
        let (mut requests, mut retries) = (0u64, 0u64);
        for slot in &self.slots {
            let s = slot.second.load(Ordering::Relaxed);
            if s <= second && second - s < WINDOW_SECS {
                requests += slot.requests.load(Ordering::Relaxed);
                retries += slot.retries.load(Ordering::Relaxed);
            }
        }
        let by_ratio = retries * 100 < requests * self.percent;
        let by_floor = current.retries.load(Ordering::Relaxed) < self.min_per_second;
        if by_ratio || by_floor {
            current.retries.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: serde_json::Value) -> Result<RetryPolicy, (String, String)> {
        let spec: RetrySpec =
            serde_json::from_value(yaml).map_err(|e| (String::new(), e.to_string()))?;
        RetryPolicy::compile(&spec)
    }

    #[test]
    fn codes_and_limits_are_checked() {
        let policy = spec(serde_json::json!({"codes": [503]})).map_err(|e| e.1);
        let Ok(policy) = policy else {
            panic!("{policy:?}")
        };
        assert!(policy.retries_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!policy.retries_status(StatusCode::BAD_GATEWAY));
        assert_eq!(
            spec(serde_json::json!({"codes": [500]})).err().map(|e| e.0),
            Some("codes[0]".to_owned())
        );
        assert_eq!(
            spec(serde_json::json!({"attempts": 0})).err().map(|e| e.0),
            Some("attempts".to_owned())
        );
        assert_eq!(
            spec(serde_json::json!({"budget": {"percent": 101}}))
                .err()
                .map(|e| e.0),
            Some("budget.percent".to_owned())
        );
    }

    #[test]
    fn the_budget_holds_retries_to_the_ratio() {
        let budget = RetryBudget::new(20, 0);
        let now = 50_000;
        for _ in 0..100 {
            budget.record_request(now);
        }
        let granted = (0..100).filter(|_| budget.try_retry(now)).count();
        assert_eq!(granted, 20);
    }

    #[test]
    fn the_floor_allows_a_few_retries_per_second() {
        let budget = RetryBudget::new(0, 3);
        assert_eq!((0..10).filter(|_| budget.try_retry(7_000)).count(), 3);
        assert_eq!((0..10).filter(|_| budget.try_retry(8_000)).count(), 3);
    }

    #[test]
    fn old_requests_leave_the_window() {
        let budget = RetryBudget::new(50, 0);
        for _ in 0..10 {
            budget.record_request(1_000);
        }
        assert!(budget.try_retry(5_000));
        // Eleven seconds later the requests no longer count.
        assert!(!budget.try_retry(12_000));
    }
}
