//! Shares the deny list through Redis: a hash `<prefix>bans` (CIDR → JSON
//! [`Ban`]) is the replicas' common set. Local additions and removals
//! (admin API, remediation) are written there and announced on the channel
//! `<prefix>bans:changed`; every replica reloads the hash into its
//! [`DenyList`] on each announcement and every `sync_interval`, so a missed
//! message is repaired and a restarted replica gets every live ban back.
//! Expiry is wall-clock (Unix ms), honoured by every replica.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use crate::policy::deny_list::DenyList;
use crate::state::StoreError;
use crate::state::bans::{Ban, BanChange, BanStore, unix_ms};
use crate::state::redis::RedisStore;

/// Local changes kept for a retry while Redis is down (beyond: dropped,
/// with a log line; the ban still holds on this replica until the next
/// successful sync replaces the set).
const MAX_PENDING: usize = 10_000;

/// The ban store on Redis.
#[derive(Debug, Clone)]
pub struct RedisBans {
    store: Arc<RedisStore>,
    hash: String,
    channel: String,
}

impl RedisBans {
    pub fn new(store: Arc<RedisStore>) -> Self {
        let hash = store.key("bans");
        let channel = store.key("bans:changed");
        Self {
            store,
            hash,
            channel,
        }
    }

    async fn announce(&self) -> Result<(), StoreError> {
        let channel = self.channel.clone();
        self.store
            .call(|mut con| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg("1")
                    .query_async::<i64>(&mut con)
                    .await
            })
            .await
            .map(|_| ())
    }
}

impl BanStore for RedisBans {
    async fn ban(&self, ban: Ban) -> Result<(), StoreError> {
        let json = serde_json::to_string(&ban).map_err(|e| StoreError::Backend(e.to_string()))?;
        let hash = self.hash.clone();
        self.store
            .call(|mut con| async move {
                redis::cmd("HSET")
                    .arg(hash)
                    .arg(ban.cidr)
                    .arg(json)
                    .query_async::<i64>(&mut con)
                    .await
            })
            .await?;
        self.announce().await
    }

    async fn unban(&self, cidr: &str) -> Result<bool, StoreError> {
        let hash = self.hash.clone();
        let cidr = cidr.to_owned();
        let removed: i64 = self
            .store
            .call(|mut con| async move {
                redis::cmd("HDEL")
                    .arg(hash)
                    .arg(cidr)
                    .query_async(&mut con)
                    .await
            })
            .await?;
        self.announce().await?;
        Ok(removed > 0)
    }

    async fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        let hash = self.hash.clone();
        let all: Vec<(String, String)> =
            self.store
                .call(|mut con| async move {
                    redis::cmd("HGETALL").arg(hash).query_async(&mut con).await
                })
                .await?;
        let now = unix_ms();
        let mut live = Vec::with_capacity(all.len());
        let mut expired = Vec::new();
        for (cidr, json) in all {
            match serde_json::from_str::<Ban>(&json) {
                Ok(ban) if ban.live_at(now) => live.push(ban),
                Ok(_) => expired.push(cidr),
                Err(e) => tracing::warn!(%cidr, error = %e, "unreadable shared ban skipped"),
            }
        }
        if !expired.is_empty() {
            // Best effort: another replica's sync removes them otherwise.
            let hash = self.hash.clone();
            let _ = self
                .store
                .call(|mut con| async move {
                    redis::cmd("HDEL")
                        .arg(hash)
                        .arg(expired)
                        .query_async::<i64>(&mut con)
                        .await
                })
                .await;
        }
        Ok(live)
    }
}

/// Runs until the process ends: mirrors the shared set into `list` and
/// writes `list`'s local changes to it.
pub async fn run(store: Arc<RedisStore>, list: Arc<DenyList>) {
    let bans = RedisBans::new(Arc::clone(&store));
    let mut local = list.subscribe();
    let mut pending: Vec<BanChange> = Vec::new();
    let mut tick = tokio::time::interval(store.spec.sync_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (notify_tx, mut notify) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(listen(store.clone(), bans.channel.clone(), notify_tx));
    loop {
        tokio::select! {
            change = local.recv() => match change {
                Ok(change) => {
                    pending.push(change);
                    flush(&bans, &mut pending).await;
                }
                // Missed local changes: the next full sync would drop them,
                // so push this replica's whole list first.
                Err(RecvError::Lagged(_)) => {
                    pending.extend(list.list().iter().map(|e| BanChange::Added(e.to_ban())));
                    flush(&bans, &mut pending).await;
                }
                Err(RecvError::Closed) => return,
            },
            Some(()) = notify.recv() => sync(&bans, &list, &mut pending).await,
            _ = tick.tick() => sync(&bans, &list, &mut pending).await,
        }
    }
}

async fn flush(bans: &RedisBans, pending: &mut Vec<BanChange>) {
    while let Some(change) = pending.first().cloned() {
        let result = match &change {
            BanChange::Added(ban) => bans.ban(ban.clone()).await,
            BanChange::Removed(cidr) => bans.unban(cidr).await.map(|_| ()),
        };
        if result.is_err() {
            if pending.len() > MAX_PENDING {
                tracing::warn!(
                    dropped = pending.len(),
                    "shared store down: pending ban changes dropped"
                );
                pending.clear();
            }
            return;
        }
        pending.remove(0);
    }
}

async fn sync(bans: &RedisBans, list: &DenyList, pending: &mut Vec<BanChange>) {
    // Local changes first, or the shared set would overwrite them.
    flush(bans, pending).await;
    if !pending.is_empty() {
        return;
    }
    match bans.bans().await {
        Ok(shared) => list.mirror(&shared),
        Err(e) => tracing::debug!(error = %e, "shared ban sync skipped"),
    }
}

/// Subscribes to change announcements, resubscribing after a failure; each
/// message wakes the sync loop (coalesced by the one-slot channel).
async fn listen(store: Arc<RedisStore>, channel: String, notify: tokio::sync::mpsc::Sender<()>) {
    let retry = store.spec.sync_interval.min(Duration::from_secs(1));
    loop {
        let subscribed = async {
            let mut pubsub = store.client().get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(retry.max(Duration::from_millis(200)), subscribed).await {
            Ok(Ok(pubsub)) => {
                // A (re)subscription may have missed messages.
                let _ = notify.try_send(());
                let mut messages = pubsub.into_on_message();
                while messages.next().await.is_some() {
                    let _ = notify.try_send(());
                }
                if notify.is_closed() {
                    return;
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "ban channel subscription failed"),
            Err(_) => tracing::debug!("ban channel subscription timed out"),
        }
        tokio::time::sleep(retry).await;
    }
}
