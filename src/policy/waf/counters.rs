//! Per-rule counters of one `waf` policy, read by the metrics collector at
//! scrape time: one atomic per loaded rule (the label set is bounded by the
//! rule set, never by what clients send).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::waf::engine::{Engine, Transaction};
use crate::waf::rule::Step;

#[derive(Debug)]
pub struct Counters {
    /// Loaded rule ids, sorted (index into the per-rule counters).
    ids: Vec<u32>,
    matched: Vec<AtomicU64>,
    blocked_by: Vec<AtomicU64>,
    pub inspected: AtomicU64,
    pub detected: AtomicU64,
    pub blocked: AtomicU64,
}

impl Counters {
    pub fn new(engine: &Engine) -> Self {
        let mut ids: Vec<u32> = engine
            .rules
            .phases
            .iter()
            .flatten()
            .filter_map(|step| match step {
                Step::Rule(rule) => Some(rule.id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let zeros = || ids.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            matched: zeros(),
            blocked_by: zeros(),
            ids,
            inspected: AtomicU64::new(0),
            detected: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
        }
    }

    /// Counts one finished transaction.
    pub fn record(&self, tx: &Transaction, blocked: Option<u32>) {
        self.inspected.fetch_add(1, Ordering::Relaxed);
        let mut any = false;
        for m in tx.matched().iter().filter(|m| m.logged) {
            any = true;
            if let Ok(i) = self.ids.binary_search(&m.id) {
                self.matched[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        match blocked {
            Some(id) => {
                self.blocked.fetch_add(1, Ordering::Relaxed);
                if let Ok(i) = self.ids.binary_search(&id) {
                    self.blocked_by[i].fetch_add(1, Ordering::Relaxed);
                }
            }
            None if any => {
                self.detected.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
    }

    /// (rule id, times matched, times it refused a request) for every rule
    /// that matched at least once.
    pub fn by_rule(&self) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
        self.ids.iter().enumerate().filter_map(|(i, &id)| {
            let matched = self.matched[i].load(Ordering::Relaxed);
            let blocked = self.blocked_by[i].load(Ordering::Relaxed);
            (matched > 0 || blocked > 0).then_some((id, matched, blocked))
        })
    }
}
