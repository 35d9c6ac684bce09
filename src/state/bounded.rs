//! A sharded, bounded map from a 64-bit key hash to one `u64` of limiter
//! state (a GCRA theoretical arrival time).
//!
//! Keys are hashed with a per-process random SipHash key before they get
//! here, so an attacker can neither predict collisions nor aim at one shard.
//! Storing only the hash keeps an entry at 16 bytes plus one control byte
//! (see `bytes_per_key`). A value `<= now` means "at rest": such an entry is
//! equivalent to no entry, which makes idle expiry free of any clock
//! bookkeeping. When a shard is full, idle entries are swept (at most once a
//! second per shard, so a full shard of busy keys cannot make every insert
//! O(n)); if that frees nothing, the entry closest to rest among a small
//! sample is evicted (it loses the least history).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const SAMPLE: usize = 8;
const SWEEP_EVERY_NS: u64 = 1_000_000_000;

/// The keys are already uniformly random hashes; this spreads their low bits
/// into the high bits the table's control bytes use (the shard index took
/// the top bits, which are therefore equal within a shard).
#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Table = HashMap<u64, u64, BuildHasherDefault<MixHasher>>;

#[derive(Default)]
struct Shard {
    table: Table,
    last_sweep: u64,
}

/// Bounded per-key state. `len() <= max_keys` always holds.
pub struct BoundedState {
    shards: Box<[Mutex<Shard>]>,
    shard_bits: u32,
    per_shard: usize,
    evictions: AtomicU64,
}

impl std::fmt::Debug for BoundedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedState")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .finish()
    }
}

impl BoundedState {
    /// `max_keys` is rounded down to a multiple of the shard count (at least
    /// one key per shard).
    pub fn new(max_keys: usize) -> Self {
        // Enough shards that contention is rare, few enough that every shard
        // holds a useful number of keys.
        let shard_bits: u32 = match max_keys {
            0..=255 => 0,
            256..=16_383 => 4,
            _ => 6,
        };
        let count = 1usize << shard_bits;
        let per_shard = (max_keys / count).max(1);
        let shards = (0..count).map(|_| Mutex::new(Shard::default())).collect();
        Self {
            shards,
            shard_bits,
            per_shard,
            evictions: AtomicU64::new(0),
        }
    }

    /// The bound actually enforced.
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// Runs `f` on the state of `key` (0 for a new key, which means "at
    /// rest"). Entries left at rest are removed, so idle keys cost nothing.
    pub fn with<R>(&self, key: u64, now: u64, f: impl FnOnce(&mut u64) -> R) -> R {
        let index = if self.shard_bits == 0 {
            0
        } else {
            (key >> (64 - self.shard_bits)) as usize
        };
        let Some(shard) = self.shards.get(index) else {
            let mut scratch = 0;
            return f(&mut scratch);
        };
        // A poisoned shard only means a panic elsewhere mid-update; the value
        // is a plain integer, still meaningful.
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(value) = shard.table.get_mut(&key) {
            return f(value);
        }
        let mut value = 0;
        let result = f(&mut value);
        if value > now {
            if shard.table.len() >= self.per_shard {
                self.make_room(&mut shard, now);
            }
            shard.table.insert(key, value);
        }
        result
    }

    fn make_room(&self, shard: &mut Shard, now: u64) {
        if now.saturating_sub(shard.last_sweep) >= SWEEP_EVERY_NS || shard.last_sweep == 0 {
            shard.last_sweep = now.max(1);
            shard.table.retain(|_, v| *v > now);
            if shard.table.len() < self.per_shard {
                return;
            }
        }
        let victim = shard
            .table
            .iter()
            .take(SAMPLE)
            .min_by_key(|(_, v)| **v)
            .map(|(k, _)| *k);
        if let Some(victim) = victim {
            shard.table.remove(&victim);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.table.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Busy keys evicted to make room (each got a fresh allowance).
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Heap bytes held by the tables divided by tracked keys: 16 bytes of
    /// key and value plus one control byte per bucket, over the load factor.
    pub fn bytes_per_key(&self) -> f64 {
        let (mut buckets, mut len) = (0usize, 0usize);
        for s in self.shards.iter() {
            if let Ok(s) = s.lock() {
                buckets += s.table.capacity();
                len += s.table.len();
            }
        }
        // `capacity()` is 7/8 of the buckets hashbrown allocates.
        let bytes = (buckets as f64) * 8.0 / 7.0 * 17.0;
        if len == 0 { 0.0 } else { bytes / len as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    #[test]
    fn a_million_distinct_keys_stay_within_the_bound() {
        let state = BoundedState::new(100_000);
        let hasher = RandomState::new();
        let now = 1_000;
        for i in 0..1_000_000u64 {
            let key = hasher.hash_one(i);
            // Every key is busy (state in the future), so nothing is idle.
            state.with(key, now, |v| *v = now + 1_000_000_000);
        }
        assert!(state.len() <= 100_000, "{}", state.len());
        assert!(state.len() >= 99_000, "{}", state.len());
        assert!(state.evictions() >= 900_000);
        let bpk = state.bytes_per_key();
        eprintln!("bytes per tracked key: {bpk:.1}");
        assert!(bpk < 48.0, "{bpk}");
    }

    #[test]
    fn idle_keys_are_not_stored_and_are_swept() {
        let state = BoundedState::new(16);
        state.with(7, 100, |v| *v = 50); // at rest: not stored
        assert_eq!(state.len(), 0);
        for k in 0..16u64 {
            state.with(k, 100, |v| *v = 200);
        }
        assert_eq!(state.len(), 16);
        // At time 300 every entry is at rest; a new busy key sweeps them.
        state.with(99, 300, |v| *v = 400);
        assert_eq!(state.len(), 1);
        assert_eq!(state.evictions(), 0);
    }

    #[test]
    fn existing_key_keeps_its_state() {
        let state = BoundedState::new(1000);
        state.with(5, 0, |v| *v = 10);
        assert_eq!(state.with(5, 0, |v| *v), 10);
    }
}
