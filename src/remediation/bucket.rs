//! Leaky buckets per client for one scenario (CrowdSec's shape): each
//! counted event adds one, one leaks out every `leak`; more than
//! `capacity` overflows. Distinct-path scenarios count a path once per
//! bucket. The map is bounded: at `max_clients` the stalest bucket goes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    level: f64,
    last: Instant,
    /// Paths already counted (distinct scenarios), at most capacity + 1.
    paths: Vec<u64>,
}

#[derive(Debug)]
pub struct Buckets {
    capacity: u32,
    leak: Duration,
    distinct: bool,
    max_clients: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl Buckets {
    pub fn new(capacity: u32, leak: Duration, distinct: bool, max_clients: usize) -> Self {
        Self {
            capacity,
            leak,
            distinct,
            max_clients: max_clients.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Adds one event for `ip`; `Some(events)` when the bucket overflows
    /// (it is then emptied, so one overflow is one decision).
    pub fn pour(&mut self, ip: IpAddr, path_hash: u64, now: Instant) -> Option<u32> {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_clients {
            self.evict(now);
        }
        let leak = self.leak.as_secs_f64().max(1e-6);
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            level: 0.0,
            last: now,
            paths: Vec::new(),
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.level = (bucket.level - elapsed / leak).max(0.0);
        bucket.last = now;
        if bucket.level == 0.0 {
            bucket.paths.clear();
        }
        if self.distinct {
            if bucket.paths.contains(&path_hash) {
                return None;
            }
            bucket.paths.push(path_hash);
        }
        bucket.level += 1.0;
        if bucket.level > f64::from(self.capacity) {
            let events = bucket.level.ceil() as u32;
            self.buckets.remove(&ip);
            return Some(events);
        }
        None
    }

    fn evict(&mut self, now: Instant) {
        let leak = self.leak.as_secs_f64().max(1e-6);
        // Empty buckets first; else the one closest to empty.
        self.buckets.retain(|_, b| {
            b.level - now.saturating_duration_since(b.last).as_secs_f64() / leak > 0.0
        });
        if self.buckets.len() >= self.max_clients
            && let Some(stalest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| *k)
        {
            self.buckets.remove(&stalest);
        }
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn overflows_after_capacity_and_leaks_over_time() {
        let mut b = Buckets::new(5, Duration::from_secs(10), false, 100);
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.pour(ip(1), 0, t), None);
        }
        assert_eq!(b.pour(ip(1), 0, t), Some(6));
        // Slow enough (one per leak) never overflows.
        let mut now = t;
        for _ in 0..20 {
            now += Duration::from_secs(10);
            assert_eq!(b.pour(ip(2), 0, now), None);
        }
    }

    #[test]
    fn distinct_paths_count_once() {
        let mut b = Buckets::new(3, Duration::from_secs(10), true, 100);
        let t = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.pour(ip(1), 42, t), None);
        }
        // 42 counted once; two more distinct paths fill the bucket.
        for p in 1..=2 {
            assert_eq!(b.pour(ip(1), p, t), None);
        }
        assert_eq!(b.pour(ip(1), 2, t), None, "a repeated path is not counted");
        assert!(b.pour(ip(1), 3, t).is_some());
    }

    #[test]
    fn stays_within_max_clients() {
        let mut b = Buckets::new(100, Duration::from_secs(60), false, 50);
        let t = Instant::now();
        for n in 0..=255u8 {
            b.pour(ip(n), 0, t);
        }
        assert!(b.len() <= 50);
    }
}
