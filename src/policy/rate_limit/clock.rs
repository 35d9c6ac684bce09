//! The time source of limiters: monotonic nanoseconds, injectable so tests
//! can step time (schedules, refill) without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic nanoseconds; never 0 (0 means "at rest" in limiter state).
    fn now_ns(&self) -> u64;
    /// Wall-clock Unix seconds, for time-of-day schedules.
    fn wall_secs(&self) -> u64;
}

/// The process clock, counted from its creation plus one second.
#[derive(Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    fn now_ns(&self) -> u64 {
        let elapsed = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX / 2);
        elapsed.saturating_add(1_000_000_000)
    }

    fn wall_secs(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock {
    ns: AtomicU64,
    wall: AtomicU64,
}

impl ManualClock {
    pub fn new(start_ns: u64) -> Self {
        Self {
            ns: AtomicU64::new(start_ns.max(1)),
            wall: AtomicU64::new(0),
        }
    }
    pub fn advance(&self, ns: u64) {
        self.ns.fetch_add(ns, Ordering::Relaxed);
    }
    pub fn set_wall(&self, unix_secs: u64) {
        self.wall.store(unix_secs, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.ns.load(Ordering::Relaxed)
    }
    fn wall_secs(&self) -> u64 {
        self.wall.load(Ordering::Relaxed)
    }
}
