//! Detection counters: a count per key in a fixed window (for remediation
//! scenarios and anomaly baselines that must agree across replicas).
//!
//! [`MemoryCounters`] is bounded: at `max_keys`, expired windows go first,
//! then the window closest to its end.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use crate::state::StoreError;
use crate::upstream::clock::now_ms;

pub trait CounterStore {
    /// Adds `by` to the count of `key` in its current window (a new window
    /// of length `window` starts when none is live); returns the new count.
    fn incr(
        &self,
        key: &str,
        by: u64,
        window: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[derive(Debug)]
pub struct MemoryCounters {
    max_keys: usize,
    counts: Mutex<HashMap<Box<str>, (u64, u64)>>,
}

impl MemoryCounters {
    pub fn new(max_keys: usize) -> Self {
        Self {
            max_keys: max_keys.max(1),
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn incr_now(&self, key: &str, by: u64, window: Duration) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut counts = self
            .counts
            .lock()
            .map_err(|_| StoreError::Backend("counter lock poisoned".to_owned()))?;
        if let Some((count, end)) = counts.get_mut(key)
            && *end > now
        {
            *count = count.saturating_add(by);
            return Ok(*count);
        }
        if counts.len() >= self.max_keys && !counts.contains_key(key) {
            counts.retain(|_, (_, end)| *end > now);
            if counts.len() >= self.max_keys {
                let victim = counts
                    .iter()
                    .min_by_key(|(_, (_, end))| *end)
                    .map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    counts.remove(&victim);
                }
            }
        }
        let end = now.saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
        counts.insert(key.into(), (by, end));
        Ok(by)
    }

    pub fn len(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CounterStore for MemoryCounters {
    fn incr(
        &self,
        key: &str,
        by: u64,
        window: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        std::future::ready(self.incr_now(key, by, window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_within_a_window_and_restarts_after_it() {
        let c = MemoryCounters::new(10);
        assert_eq!(c.incr("ip", 1, Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(c.incr("ip", 2, Duration::from_secs(60)).await.unwrap(), 3);
        assert_eq!(c.incr("gone", 5, Duration::ZERO).await.unwrap(), 5);
        assert_eq!(c.incr("gone", 1, Duration::ZERO).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn stays_within_its_bound() {
        let c = MemoryCounters::new(50);
        for i in 0..500 {
            c.incr(&format!("k{i}"), 1, Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(c.len() <= 50);
    }
}
