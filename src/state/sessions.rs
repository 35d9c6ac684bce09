//! Sessions: an opaque key mapped to sealed (already encrypted) bytes with a
//! time to live. Generic on purpose: the identity work's OIDC sessions seal
//! their own payload; the store never sees a token in clear.
//!
//! [`MemorySessions`] is bounded: at `max_entries` expired entries are
//! dropped first, then the entry closest to expiry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::state::StoreError;
use crate::upstream::clock::now_ms;

/// Largest sealed value accepted, so one session cannot hold much memory.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

pub trait SessionStore {
    /// Stores `value` under `key` for `ttl` (replacing any previous value).
    fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The live value under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;
    /// Removes `key` (logout); true when there was a live value.
    fn remove(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Key → (sealed value, expiry in `now_ms` milliseconds).
type Entries = HashMap<Box<str>, (Bytes, u64)>;

#[derive(Debug)]
pub struct MemorySessions {
    max_entries: usize,
    entries: Mutex<Entries>,
}

impl MemorySessions {
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries: max_entries.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, StoreError> {
        self.entries
            .lock()
            .map_err(|_| StoreError::Backend("session lock poisoned".to_owned()))
    }

    fn put_now(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::Backend(format!(
                "session value over {MAX_VALUE_BYTES} bytes"
            )));
        }
        let now = now_ms();
        let expires = now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut entries = self.lock()?;
        if entries.len() >= self.max_entries && !entries.contains_key(key) {
            entries.retain(|_, (_, e)| *e > now);
            if entries.len() >= self.max_entries {
                let victim = entries
                    .iter()
                    .min_by_key(|(_, (_, e))| *e)
                    .map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(key.into(), (value, expires));
        Ok(())
    }

    fn get_now(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let now = now_ms();
        let entries = self.lock()?;
        Ok(entries
            .get(key)
            .filter(|(_, e)| *e > now)
            .map(|(v, _)| v.clone()))
    }

    fn remove_now(&self, key: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        Ok(self.lock()?.remove(key).is_some_and(|(_, e)| e > now))
    }

    pub fn len(&self) -> usize {
        self.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemorySessions {
    fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(self.put_now(key, value, ttl))
    }
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send {
        std::future::ready(self.get_now(key))
    }
    fn remove(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(self.remove_now(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_live_until_their_ttl_and_can_be_removed() {
        let s = MemorySessions::new(10);
        s.put("a", Bytes::from_static(b"sealed"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"sealed"[..]));
        s.put("b", Bytes::from_static(b"x"), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(s.get("b").await.unwrap(), None);
        assert!(s.remove("a").await.unwrap());
        assert_eq!(s.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn stays_within_its_bound_and_refuses_huge_values() {
        let s = MemorySessions::new(100);
        for i in 0..1000 {
            s.put(
                &format!("k{i}"),
                Bytes::from_static(b"v"),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        }
        assert!(s.len() <= 100);
        let huge = Bytes::from(vec![0u8; MAX_VALUE_BYTES + 1]);
        assert!(s.put("h", huge, Duration::from_secs(1)).await.is_err());
    }
}
