//! Server-side login sessions: what a session holds (the principal from the
//! ID token, the tokens, their expiries) and where it lives. The store is a
//! small trait (get / put with an expiry / delete) so a shared store (Redis,
//! under `src/state/`) can replace the bounded in-memory one; the browser
//! only ever holds a sealed random id.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::policy::principal::Principal;

const SHARDS: usize = 16;

/// One logged-in browser.
#[derive(Debug)]
pub struct Session {
    pub principal: Arc<Principal>,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token expires.
    pub access_expires: u64,
    /// Unix seconds when the session ends (refreshes do not extend it).
    pub expires: u64,
    /// Held while this session's tokens are refreshed: one refresh in
    /// flight per session, later requests wait and reuse its result.
    pub refresh_lock: tokio::sync::Mutex<()>,
}

/// Where sessions live, keyed by their (random) id.
pub trait SessionStore<V>: Send + Sync + std::fmt::Debug {
    /// The value for `id`, if alive at `now` (Unix seconds).
    fn get(&self, id: &[u8], now: u64) -> Option<Arc<V>>;
    /// Stores `value` until `expires` (Unix seconds), replacing any other.
    fn put(&self, id: &[u8], value: Arc<V>, expires: u64, now: u64);
    fn delete(&self, id: &[u8]);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Shard<V> = Mutex<HashMap<Box<[u8]>, Entry<V>>>;

struct Entry<V> {
    expires: u64,
    value: Arc<V>,
}

/// A bounded in-memory store: sharded maps; a full shard first drops the
/// expired entries, then the one that expires soonest.
pub struct MemoryStore<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl<V> std::fmt::Debug for MemoryStore<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl<V> MemoryStore<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, id: &[u8]) -> &Shard<V> {
        &self.shards[(self.hasher.hash_one(id) as usize) % SHARDS]
    }
}

impl<V: Send + Sync> SessionStore<V> for MemoryStore<V> {
    fn get(&self, id: &[u8], now: u64) -> Option<Arc<V>> {
        let map = self.shard(id).lock().ok()?;
        let entry = map.get(id)?;
        (entry.expires > now).then(|| Arc::clone(&entry.value))
    }

    fn put(&self, id: &[u8], value: Arc<V>, expires: u64, now: u64) {
        if expires <= now {
            return;
        }
        let Ok(mut map) = self.shard(id).lock() else {
            return;
        };
        if map.len() >= self.per_shard && !map.contains_key(id) {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.per_shard {
                let victim = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    map.remove(&victim);
                }
            }
        }
        map.insert(id.into(), Entry { expires, value });
    }

    fn delete(&self, id: &[u8]) {
        if let Ok(mut map) = self.shard(id).lock() {
            map.remove(id);
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_put_delete_expire_and_bound() {
        let store: MemoryStore<u32> = MemoryStore::new(32);
        store.put(b"a", Arc::new(1), 100, 10);
        assert_eq!(store.get(b"a", 50).as_deref(), Some(&1));
        assert!(store.get(b"a", 100).is_none(), "dead at its expiry");
        store.delete(b"a");
        assert!(store.get(b"a", 50).is_none());
        for i in 0..5_000u32 {
            store.put(&i.to_le_bytes(), Arc::new(i), 1000 + u64::from(i), 10);
        }
        assert!(store.len() <= 32, "{}", store.len());
        // The latest-expiring survive eviction.
        assert!(store.get(&4_999u32.to_le_bytes(), 20).is_some());
    }

    /// Memory of 100,000 sessions of a realistic shape (ID token with
    /// groups, opaque access and refresh tokens). Run alone:
    /// `cargo test --release --lib oidc::session::tests::memory -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn memory_of_100k_sessions() {
        use crate::policy::principal::AuthMethod;
        fn rss_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        }
        const N: usize = 100_000;
        // Headroom: the bound is per shard, so a full store holds slightly fewer.
        let store: MemoryStore<Session> = MemoryStore::new(N * 2);
        let policy: Arc<str> = "login".into();
        let before = rss_kib();
        for i in 0..N {
            let groups: Vec<String> = (0..10).map(|g| format!("group-{g}")).collect();
            let claims = serde_json::json!({
                "sub": format!("user-{i}"), "iss": "https://idp.example.com",
                "aud": "gateway", "exp": 2_000_000_000u64, "iat": 1_700_000_000u64,
                "email": format!("user-{i}@example.com"), "groups": groups,
            });
            let mut p = Principal::new(AuthMethod::Oidc, Arc::clone(&policy), format!("user-{i}"));
            p.issuer = Some("https://idp.example.com".into());
            p.roles = vec!["dev".into()];
            p.claims = claims;
            let session = Session {
                principal: Arc::new(p),
                id_token: "x".repeat(900),
                access_token: "a".repeat(43),
                refresh_token: Some("r".repeat(43)),
                access_expires: 2_000_000_000,
                expires: 2_000_000_000,
                refresh_lock: tokio::sync::Mutex::new(()),
            };
            let id = (i as u128).to_le_bytes();
            store.put(&id, Arc::new(session), 2_000_000_000, 1);
        }
        let after = rss_kib();
        assert_eq!(store.len(), N);
        println!(
            "100000 sessions: RSS +{} KiB ({} bytes/session)",
            after - before,
            (after - before) * 1024 / N as u64
        );
    }
}
