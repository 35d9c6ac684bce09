//! A bounded cache of verified credentials (tokens, API keys, passwords
//! after their slow hash), keyed by a keyed 128-bit hash of the credential
//! so the cache never holds a secret and an attacker cannot aim collisions.
//! Entries never outlive the credential's own expiry. The map is sharded;
//! a full shard drops expired entries, then an arbitrary one.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use siphasher::sip128::{Hasher128, SipHasher13};

const SHARDS: usize = 16;

type Shard<V> = Mutex<HashMap<u64, Entry<V>>>;

#[derive(Debug)]
struct Entry<V> {
    /// The other half of the 128-bit hash: both halves must match.
    check: u64,
    /// Unix seconds after which the entry is dead.
    expires: u64,
    value: Arc<V>,
}

#[derive(Debug)]
pub struct CredentialCache<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
    keys: (u64, u64),
}

impl<V> CredentialCache<V> {
    /// Holds at most `capacity` entries (0 disables the cache).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard,
            keys: (fastrand::u64(..), fastrand::u64(..)),
        }
    }

    fn hash(&self, credential: &[u8]) -> (u64, u64) {
        let mut h = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        h.write(credential);
        let h = h.finish128();
        (h.h1, h.h2)
    }

    /// The cached value for `credential`, if alive at `now` (Unix seconds).
    pub fn get(&self, credential: &[u8], now: u64) -> Option<Arc<V>> {
        if self.per_shard == 0 {
            return None;
        }
        let (key, check) = self.hash(credential);
        let shard = &self.shards[(key as usize) % SHARDS];
        let map = shard.lock().ok()?;
        let entry = map.get(&key)?;
        (entry.check == check && entry.expires > now).then(|| Arc::clone(&entry.value))
    }

    /// Remembers `value` for `credential` until `expires` (Unix seconds).
    pub fn insert(&self, credential: &[u8], value: Arc<V>, expires: u64, now: u64) {
        if self.per_shard == 0 || expires <= now {
            return;
        }
        let (key, check) = self.hash(credential);
        let shard = &self.shards[(key as usize) % SHARDS];
        let Ok(mut map) = shard.lock() else { return };
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.per_shard
                && let Some(victim) = map.keys().next().copied()
            {
                map.remove(&victim);
            }
        }
        map.insert(
            key,
            Entry {
                check,
                expires,
                value,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_expire_and_stay_bounded() {
        let cache = CredentialCache::new(64);
        cache.insert(b"tok", Arc::new(1), 100, 10);
        assert_eq!(cache.get(b"tok", 50).as_deref(), Some(&1));
        assert!(cache.get(b"tok", 100).is_none(), "expired at its exp");
        assert!(cache.get(b"other", 50).is_none());
        for i in 0..10_000u32 {
            cache.insert(&i.to_le_bytes(), Arc::new(i), 1000, 10);
        }
        assert!(cache.len() <= 64, "{}", cache.len());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = CredentialCache::new(0);
        cache.insert(b"tok", Arc::new(1), 100, 10);
        assert!(cache.get(b"tok", 50).is_none());
    }
}
