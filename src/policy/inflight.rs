//! `inflight`: a concurrency limit per key with a bounded wait queue. The
//! permit is an RAII guard the pipeline attaches to the response body, so a
//! place is held until the response has been sent (or the client left).
//!
//! Per-key gates exist only while a request holds or waits for them, so the
//! map is bounded by the requests in progress (and by `max_keys`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::spec_inflight::InflightSpec;
use crate::config::spec_rate_limit::{MissingKey, Scope};
use crate::policy::PolicyInput;
use crate::policy::rate_limit::key::{KeyBuilder, KeyOutcome};

const SHARDS: usize = 16;

#[derive(Debug)]
struct Gate {
    places: Arc<Semaphore>,
    waiting: AtomicU32,
    /// Requests holding or waiting for this gate (changed under the shard lock).
    users: AtomicU32,
}

type Shard = Mutex<HashMap<u64, Arc<Gate>>>;

#[derive(Debug, Default)]
pub struct Counters {
    pub admitted: AtomicU64,
    pub queued: AtomicU64,
    pub rejected: AtomicU64,
}

/// A compiled `inflight` policy.
#[derive(Debug)]
pub struct Inflight {
    pub spec: InflightSpec,
    key: KeyBuilder,
    shards: Box<[Shard]>,
    keys: AtomicU64,
    pub counters: Counters,
}

/// A place held until dropped.
#[derive(Debug)]
pub struct InflightPermit {
    _place: OwnedSemaphorePermit,
    _release: Release,
}

/// Leaves the gate (and removes it when unused) on drop, also for a
/// request that gave up waiting.
#[derive(Debug)]
struct Release {
    owner: Arc<Inflight>,
    key: u64,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.owner.leave(self.key);
    }
}

impl Inflight {
    pub fn compile(spec: &InflightSpec) -> Result<Self, String> {
        if spec.max == 0 {
            return Err("max must be at least 1".to_owned());
        }
        // Requests without a key part share the client IP's gate.
        let key = KeyBuilder::compile(
            &spec.key,
            32,
            64,
            MissingKey::ClientIp,
            spec.scope == Scope::Route,
        )?;
        Ok(Self {
            spec: spec.clone(),
            key,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            keys: AtomicU64::new(0),
            counters: Counters::default(),
        })
    }

    /// Waits for a place (bounded queue and time); `None` means reject.
    pub async fn acquire(self: &Arc<Self>, input: &PolicyInput<'_>) -> Option<InflightPermit> {
        let key = match self.key.key(input) {
            KeyOutcome::Key(k) => k,
            _ => 0,
        };
        let (places, gate) = self.enter(key)?;
        let release = Release {
            owner: Arc::clone(self),
            key,
        };
        if let Ok(place) = Arc::clone(&places).try_acquire_owned() {
            self.counters.admitted.fetch_add(1, Ordering::Relaxed);
            return Some(InflightPermit {
                _place: place,
                _release: release,
            });
        }
        let admitted = gate
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w < self.spec.queue).then_some(w + 1)
            })
            .is_ok();
        if !admitted {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        let waited = tokio::time::timeout(self.spec.queue_timeout, places.acquire_owned()).await;
        gate.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(place)) => {
                self.counters.admitted.fetch_add(1, Ordering::Relaxed);
                Some(InflightPermit {
                    _place: place,
                    _release: release,
                })
            }
            _ => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn shard(&self, key: u64) -> &Shard {
        &self.shards[(key >> 60) as usize % SHARDS]
    }

    /// Joins (or creates) the gate of `key`; `None` when `max_keys` gates exist.
    fn enter(&self, key: u64) -> Option<(Arc<Semaphore>, Arc<Gate>)> {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(gate) = shard.get(&key) {
            gate.users.fetch_add(1, Ordering::Relaxed);
            return Some((Arc::clone(&gate.places), Arc::clone(gate)));
        }
        if self.keys.load(Ordering::Relaxed) >= self.spec.max_keys as u64 {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.keys.fetch_add(1, Ordering::Relaxed);
        let places = Arc::new(Semaphore::new(self.spec.max as usize));
        let gate = Arc::new(Gate {
            places: Arc::clone(&places),
            waiting: AtomicU32::new(0),
            users: AtomicU32::new(1),
        });
        shard.insert(key, Arc::clone(&gate));
        Some((places, gate))
    }

    fn leave(&self, key: u64) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let unused = match shard.get(&key) {
            Some(gate) => gate.users.fetch_sub(1, Ordering::Relaxed) <= 1,
            None => false,
        };
        if unused {
            shard.remove(&key);
            self.keys.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Keys with requests in flight or waiting.
    pub fn tracked_keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed)
    }
}

/// The previous generation's policy when unchanged: requests in flight
/// keep counting against the same places across a reload.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    spec: &InflightSpec,
) -> Result<Arc<Inflight>, String> {
    if let Some(crate::policy::PolicyKind::Inflight(old)) = previous
        && old.spec == *spec
    {
        return Ok(Arc::clone(old));
    }
    Inflight::compile(spec).map(Arc::new)
}
