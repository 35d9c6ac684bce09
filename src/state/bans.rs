//! Bans (the deny list) behind a store interface: prefixes with a reason,
//! an author and a wall-clock expiry, so replicas with different monotonic
//! clocks agree on when a ban ends.
//!
//! The process's [`DenyList`] is the memory store (its lookups stay a lock-
//! free trie); a Redis store shares the entries between replicas and the
//! sync task (`state::redis::ban_sync`) mirrors them into every DenyList.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::policy::deny_list::DenyList;
use crate::state::StoreError;

/// One ban as stores hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub cidr: String,
    pub reason: String,
    pub added_by: String,
    /// Unix milliseconds; `None` never expires.
    pub expires_unix_ms: Option<u64>,
}

/// A change made on this replica, announced to the sync task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanChange {
    Added(Ban),
    Removed(String),
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Ban {
    /// Time left at `now_unix_ms`; `Some(ZERO)` when expired.
    pub fn ttl_at(&self, now_unix_ms: u64) -> Option<Duration> {
        self.expires_unix_ms
            .map(|e| Duration::from_millis(e.saturating_sub(now_unix_ms)))
    }

    pub fn live_at(&self, now_unix_ms: u64) -> bool {
        self.expires_unix_ms.is_none_or(|e| now_unix_ms < e)
    }
}

pub trait BanStore {
    /// Adds or replaces the ban on `ban.cidr`.
    fn ban(&self, ban: Ban) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes the ban on `cidr`; true when there was one.
    fn unban(&self, cidr: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Every live ban.
    fn bans(&self) -> impl Future<Output = Result<Vec<Ban>, StoreError>> + Send;
}

impl BanStore for DenyList {
    fn ban(&self, ban: Ban) -> impl Future<Output = Result<(), StoreError>> + Send {
        let ttl = ban.ttl_at(unix_ms());
        let result = self
            .add(&ban.cidr, ttl, &ban.reason, &ban.added_by)
            .map(|_| ())
            .map_err(StoreError::Backend);
        std::future::ready(result)
    }

    fn unban(&self, cidr: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(self.remove(cidr).map_err(StoreError::Backend))
    }

    fn bans(&self) -> impl Future<Output = Result<Vec<Ban>, StoreError>> + Send {
        std::future::ready(Ok(self.list().iter().map(|e| e.to_ban()).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_deny_list_is_a_ban_store_and_announces_changes() {
        let list = DenyList::default();
        let mut changes = list.subscribe();
        let ban = Ban {
            cidr: "192.0.2.0/24".into(),
            reason: "probing".into(),
            added_by: "test".into(),
            expires_unix_ms: Some(unix_ms() + 60_000),
        };
        list.ban(ban.clone()).await.unwrap();
        let listed = list.bans().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].cidr, "192.0.2.0/24");
        let left = listed[0].ttl_at(unix_ms()).unwrap();
        assert!(left > Duration::from_secs(58), "{left:?}");
        assert!(matches!(changes.try_recv(), Ok(BanChange::Added(b)) if b.cidr == ban.cidr));
        assert!(list.unban("192.0.2.0/24").await.unwrap());
        assert_eq!(
            changes.try_recv().ok(),
            Some(BanChange::Removed("192.0.2.0/24".into()))
        );
        assert!(list.bans().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_mirrored_set_replaces_entries_without_announcing() {
        let list = DenyList::default();
        list.add("198.51.100.1", None, "local", "x").unwrap();
        let mut changes = list.subscribe();
        let remote = Ban {
            cidr: "203.0.113.0/24".into(),
            reason: "remote".into(),
            added_by: "replica-b".into(),
            expires_unix_ms: None,
        };
        list.mirror(&[remote]);
        let cidrs: Vec<_> = list.list().iter().map(|e| e.cidr.clone()).collect();
        assert_eq!(cidrs, vec!["203.0.113.0/24".to_owned()]);
        assert!(changes.try_recv().is_err());
        // An expired remote ban is not imported.
        let expired = Ban {
            cidr: "203.0.113.7".into(),
            reason: "old".into(),
            added_by: "b".into(),
            expires_unix_ms: Some(1),
        };
        list.mirror(&[expired]);
        assert!(list.list().is_empty());
    }
}
