//! The dynamic deny list: IPs and CIDRs an operator (through the admin API)
//! blocks at once, each with a reason and an optional time to live.
//!
//! Lookups are lock-free: the table is an immutable [`CidrTable`] behind an
//! `ArcSwap`, rebuilt from the entry map on every change (changes are rare,
//! lookups are per request). Expiry is checked on hit, so an entry stops
//! blocking the moment its TTL ends even before the next rebuild prunes it.
//! Changes made here are announced (`subscribe`) so a shared store can
//! carry them to other replicas; entries from it arrive through `mirror`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use serde::Serialize;

use crate::listener::client_ip::ClientIp;
use crate::net::cidr_table::{CidrTable, parse_cidr};
use crate::state::bans::{Ban, BanChange, unix_ms};
use crate::upstream::clock::now_ms;

/// Changes a slow subscriber may lag behind before it must resync.
const CHANGE_BACKLOG: usize = 1024;

/// Bound on entries, so a runaway automation cannot grow memory without end.
pub const MAX_ENTRIES: usize = 100_000;

/// One blocked prefix.
#[derive(Debug, Clone, Serialize)]
pub struct DenyEntry {
    pub cidr: String,
    pub reason: String,
    /// Who added it (the admin caller's address).
    pub added_by: String,
    /// Monotonic deadline in [`now_ms`] milliseconds; `None` never expires.
    #[serde(skip)]
    pub expires_ms: Option<u64>,
}

impl DenyEntry {
    fn live_at(&self, now: u64) -> bool {
        self.expires_ms.is_none_or(|deadline| now < deadline)
    }

    /// Seconds left before expiry, for listings.
    pub fn ttl_left(&self) -> Option<f64> {
        self.expires_ms
            .map(|d| d.saturating_sub(now_ms()) as f64 / 1000.0)
    }

    /// The entry as a store holds it (wall-clock expiry).
    pub fn to_ban(&self) -> Ban {
        let now = now_ms();
        Ban {
            cidr: self.cidr.clone(),
            reason: self.reason.clone(),
            added_by: self.added_by.clone(),
            expires_unix_ms: self
                .expires_ms
                .map(|d| unix_ms().saturating_add(d.saturating_sub(now))),
        }
    }
}

/// The shared deny list; one per process, surviving config reloads.
#[derive(Debug)]
pub struct DenyList {
    table: ArcSwap<CidrTable<Arc<DenyEntry>>>,
    entries: Mutex<BTreeMap<IpNet, Arc<DenyEntry>>>,
    changes: tokio::sync::broadcast::Sender<BanChange>,
}

impl Default for DenyList {
    fn default() -> Self {
        Self {
            table: ArcSwap::default(),
            entries: Mutex::default(),
            changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0,
        }
    }
}

impl DenyList {
    /// Changes made on this replica (not those arriving through `mirror`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<BanChange> {
        self.changes.subscribe()
    }

    /// Replaces every entry with `bans` (the shared store's full set);
    /// expired or unparsable bans are skipped. Not announced.
    pub fn mirror(&self, bans: &[Ban]) {
        let now_unix = unix_ms();
        let now = now_ms();
        let mut fresh = BTreeMap::new();
        for ban in bans.iter().filter(|b| b.live_at(now_unix)) {
            let Ok(net) = parse_cidr(&ban.cidr) else {
                continue;
            };
            if fresh.len() >= MAX_ENTRIES {
                break;
            }
            let expires_ms = ban
                .ttl_at(now_unix)
                .map(|t| now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)));
            let entry = DenyEntry {
                cidr: net.to_string(),
                reason: ban.reason.chars().take(256).collect(),
                added_by: ban.added_by.chars().take(256).collect(),
                expires_ms,
            };
            fresh.insert(net, Arc::new(entry));
        }
        if let Ok(mut entries) = self.lock() {
            *entries = fresh;
            self.publish(&entries);
        }
    }

    /// The live entry blocking `ip`, if any (one trie lookup, no lock).
    pub fn check(&self, ip: ClientIp) -> Option<Arc<DenyEntry>> {
        self.check_addr(ip.addr())
    }

    fn check_addr(&self, ip: IpAddr) -> Option<Arc<DenyEntry>> {
        let table = self.table.load();
        // Fast path: an empty list costs one atomic load.
        if table.is_empty() {
            return None;
        }
        table
            .longest_match(ip)
            .filter(|e| e.live_at(now_ms()))
            .cloned()
    }

    /// Adds or replaces the entry for `cidr`.
    pub fn add(
        &self,
        cidr: &str,
        ttl: Option<Duration>,
        reason: &str,
        added_by: &str,
    ) -> Result<DenyEntry, String> {
        let net = parse_cidr(cidr)?;
        let ttl_ms = ttl.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let entry = DenyEntry {
            cidr: net.to_string(),
            reason: reason.chars().take(256).collect(),
            added_by: added_by.to_owned(),
            expires_ms: ttl_ms.map(|t| now_ms().saturating_add(t)),
        };
        let mut entries = self.lock()?;
        prune(&mut entries);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&net) {
            return Err(format!("deny list full ({MAX_ENTRIES} entries)"));
        }
        entries.insert(net, Arc::new(entry.clone()));
        self.publish(&entries);
        drop(entries);
        // No subscriber is fine (no shared store configured).
        let _ = self.changes.send(BanChange::Added(entry.to_ban()));
        Ok(entry)
    }

    /// Removes the entry for `cidr`; true when there was one.
    pub fn remove(&self, cidr: &str) -> Result<bool, String> {
        let net = parse_cidr(cidr)?;
        let mut entries = self.lock()?;
        let removed = entries.remove(&net).is_some();
        prune(&mut entries);
        self.publish(&entries);
        drop(entries);
        if removed {
            let _ = self.changes.send(BanChange::Removed(net.to_string()));
        }
        Ok(removed)
    }

    /// The live entries (expired ones are pruned on the way).
    pub fn list(&self) -> Vec<Arc<DenyEntry>> {
        let Ok(mut entries) = self.lock() else {
            return Vec::new();
        };
        if prune(&mut entries) {
            self.publish(&entries);
        }
        entries.values().cloned().collect()
    }

    /// Drops expired entries from the table (called periodically so a
    /// shorter prefix is not hidden by an expired longer one).
    pub fn prune_expired(&self) {
        if let Ok(mut entries) = self.lock()
            && prune(&mut entries)
        {
            self.publish(&entries);
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<IpNet, Arc<DenyEntry>>>, String> {
        self.entries
            .lock()
            .map_err(|_| "deny list lock poisoned".to_owned())
    }

    fn publish(&self, entries: &BTreeMap<IpNet, Arc<DenyEntry>>) {
        let mut table = CidrTable::new();
        for (net, entry) in entries {
            table.insert(*net, Arc::clone(entry));
        }
        self.table.store(Arc::new(table));
    }
}

/// Removes expired entries; true when any was removed.
fn prune(entries: &mut BTreeMap<IpNet, Arc<DenyEntry>>) -> bool {
    let now = now_ms();
    let before = entries.len();
    entries.retain(|_, e| e.live_at(now));
    entries.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_added_prefixes_and_unblocks_removed_ones() {
        let list = DenyList::default();
        assert!(list.check_addr(ip("192.0.2.7")).is_none());
        list.add("192.0.2.0/24", None, "scanner", "127.0.0.1")
            .unwrap();
        let hit = list.check_addr(ip("192.0.2.7")).unwrap();
        assert_eq!(hit.reason, "scanner");
        assert!(list.check_addr(ip("198.51.100.1")).is_none());
        assert!(list.remove("192.0.2.0/24").unwrap());
        assert!(list.check_addr(ip("192.0.2.7")).is_none());
        assert!(!list.remove("192.0.2.0/24").unwrap());
    }

    #[test]
    fn expired_entries_stop_blocking() {
        let list = DenyList::default();
        list.add("2001:db8::1", Some(Duration::ZERO), "gone", "x")
            .unwrap();
        assert!(list.check_addr(ip("2001:db8::1")).is_none());
        assert!(list.list().is_empty());
    }

    #[test]
    fn rejects_bad_cidrs() {
        let list = DenyList::default();
        assert!(list.add("10.0.0.1/8", None, "r", "x").is_err());
        assert!(list.add("nope", None, "r", "x").is_err());
    }
}
