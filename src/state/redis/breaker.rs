//! The circuit breaker in front of Redis: after a failure, calls are not
//! tried for `interval`; then one probe goes through while the others still
//! fail fast. An outage therefore costs one timeout per interval, not one
//! per request. Lock-free: two atomics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::upstream::clock::now_ms;

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: call.
    Call,
    /// Open but due: this caller is the one probe.
    Probe,
    /// Open: do not call.
    Refuse,
}

/// A state switch, reported once (for the metric and the security event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Opened,
    Closed,
}

#[derive(Debug)]
pub struct Breaker {
    interval_ms: u64,
    /// 0 while closed; else the `now_ms` from which a probe may go.
    retry_at: AtomicU64,
    probing: AtomicBool,
    pub opened: AtomicU64,
}

impl Breaker {
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms: interval_ms.max(1),
            retry_at: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            opened: AtomicU64::new(0),
        }
    }

    pub fn is_open(&self) -> bool {
        self.retry_at.load(Ordering::Acquire) != 0
    }

    pub fn admit(&self) -> Admit {
        let retry_at = self.retry_at.load(Ordering::Acquire);
        if retry_at == 0 {
            return Admit::Call;
        }
        if now_ms() < retry_at {
            return Admit::Refuse;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Admit::Probe,
            Err(_) => Admit::Refuse,
        }
    }

    /// A call (or probe) succeeded.
    pub fn success(&self) -> Option<Switch> {
        self.probing.store(false, Ordering::Release);
        (self.retry_at.swap(0, Ordering::AcqRel) != 0).then_some(Switch::Closed)
    }

    /// A call (or probe) failed or timed out.
    pub fn failure(&self) -> Option<Switch> {
        let retry_at = now_ms().saturating_add(self.interval_ms).max(1);
        let was = self.retry_at.swap(retry_at, Ordering::AcqRel);
        self.probing.store(false, Ordering::Release);
        if was == 0 {
            self.opened.fetch_add(1, Ordering::Relaxed);
            Some(Switch::Opened)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_refuses_then_lets_one_probe_through() {
        let b = Breaker::new(20);
        assert_eq!(b.admit(), Admit::Call);
        assert_eq!(b.failure(), Some(Switch::Opened));
        assert_eq!(b.failure(), None, "a switch is reported once");
        assert_eq!(b.admit(), Admit::Refuse);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while b.admit() == Admit::Refuse && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        // The first due caller became the probe; the next is refused.
        assert_eq!(b.admit(), Admit::Refuse);
        assert_eq!(b.success(), Some(Switch::Closed));
        assert_eq!(b.admit(), Admit::Call);
        assert_eq!(b.opened.load(Ordering::Relaxed), 1);
    }
}
