//! Passive health: eject an endpoint after consecutive failures, with back-off.

use std::time::Duration;

/// Thresholds from the backend's `health` spec.
#[derive(Debug, Clone, Copy)]
pub struct HealthPolicy {
    pub consecutive_failures: u32,
    pub base_ejection: Duration,
    pub max_ejection: Duration,
}

/// Lock-free per-endpoint health state.
#[derive(Debug, Default)]
pub struct PassiveHealth {
    _p: (),
}

impl PassiveHealth {
    /// True unless the endpoint is ejected at `now_ms` (milliseconds on the
    /// process's monotonic clock, see `upstream::clock`).
    pub fn is_available(&self, now_ms: u64) -> bool {
        let _ = now_ms;
        todo!("H3")
    }

    pub fn record_success(&self) {
        todo!("H3")
    }

    /// Returns true when this failure ejected the endpoint.
    pub fn record_failure(&self, now_ms: u64, policy: &HealthPolicy) -> bool {
        let _ = (now_ms, policy);
        todo!("H3")
    }
}
