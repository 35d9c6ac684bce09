//! Fixed-size sketches over client addresses: a recent-client filter (new
//! arrivals) and a space-saving heavy-hitter table (top talkers). Both take
//! their memory once, at creation, whatever the traffic.

use std::hash::BuildHasher;
use std::net::IpAddr;

/// A direct-mapped cache of client hashes: a client is new when its slot
/// does not hold it. A collision evicts the older client, who counts as
/// new when it returns: under a flood of distinct sources that
/// overestimates arrivals, which errs towards alerting.
#[derive(Debug)]
pub struct RecentClients {
    slots: Vec<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl RecentClients {
    pub fn new(slots: usize) -> Self {
        Self {
            slots: vec![0; slots.max(1)],
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Records `ip`; true when it was not among the recent clients.
    pub fn arrive(&mut self, ip: IpAddr) -> bool {
        // 0 marks an empty slot.
        let hash = self.hasher.hash_one(ip) | 1;
        let len = self.slots.len() as u64;
        let Some(slot) = self.slots.get_mut((hash % len) as usize) else {
            return false;
        };
        let new = *slot != hash;
        *slot = hash;
        new
    }
}

/// Space-saving (Metwally et al.): `k` counters; an unknown client takes
/// over the smallest counter (inheriting its count as possible error), so
/// any client with more than total/k requests is always in the table.
/// Counts are reported as their guaranteed part (count − inherited error),
/// so a flood of distinct sources never shows a false heavy hitter.
#[derive(Debug)]
pub struct TopTalkers {
    /// (client, count, error inherited when it took the counter over)
    counters: Vec<(IpAddr, u64, u64)>,
    capacity: usize,
    total: u64,
}

impl TopTalkers {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            counters: Vec::with_capacity(capacity),
            capacity,
            total: 0,
        }
    }

    pub fn add(&mut self, ip: IpAddr) {
        self.total += 1;
        if let Some(c) = self.counters.iter_mut().find(|c| c.0 == ip) {
            c.1 += 1;
        } else if self.counters.len() < self.capacity {
            self.counters.push((ip, 1, 0));
        } else if let Some(min) = self.counters.iter_mut().min_by_key(|c| c.1) {
            *min = (ip, min.1 + 1, min.1);
        }
    }

    /// The busiest client and its guaranteed count.
    pub fn top(&self) -> Option<(IpAddr, u64)> {
        self.ranked(1).first().copied()
    }

    /// The busiest clients by guaranteed count, most first (evidence).
    pub fn ranked(&self, n: usize) -> Vec<(IpAddr, u64)> {
        let mut v: Vec<(IpAddr, u64)> = self
            .counters
            .iter()
            .map(|c| (c.0, c.1.saturating_sub(c.2)))
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.1));
        v.truncate(n);
        v
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn clear(&mut self) {
        self.counters.clear();
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 | n))
    }

    #[test]
    fn recent_clients_flags_first_visits_only() {
        let mut r = RecentClients::new(1024);
        assert!(r.arrive(ip(1)));
        assert!(!r.arrive(ip(1)));
        assert!(r.arrive(ip(2)));
        // A flood of distinct sources: nearly all new, memory unchanged.
        let new = (1000..3000).filter(|n| r.arrive(ip(*n))).count();
        assert_eq!(new, 2000);
        assert_eq!(r.slots.len(), 1024);
    }

    #[test]
    fn distinct_sources_show_no_false_heavy_hitter() {
        let mut t = TopTalkers::new(4);
        for n in 0..1000 {
            t.add(ip(n));
        }
        assert!(t.ranked(4).iter().all(|c| c.1 <= 1), "{:?}", t.ranked(4));
    }

    #[test]
    fn top_talkers_finds_the_heavy_hitter_in_bounded_space() {
        let mut t = TopTalkers::new(8);
        for i in 0..10_000u32 {
            // One client sends a third; the rest is spread over 1000.
            if i % 3 == 0 {
                t.add(ip(7));
            } else {
                t.add(ip(100 + i % 1000));
            }
        }
        let (top, count) = t.top().unwrap();
        assert_eq!(top, ip(7));
        // Guaranteed part: at most the true 3334, not far under it.
        assert!((3000..=3334).contains(&count), "{count}");
        assert_eq!(t.total(), 10_000);
        assert!(t.counters.len() <= 8);
        assert_eq!(t.ranked(1)[0].0, ip(7));
        t.clear();
        assert!(t.top().is_none());
    }
}
