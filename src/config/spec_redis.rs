//! The shared-state model (serde): the Redis connection under `state.redis`
//! and a rate-limit policy's `store` choice. Compiled in `state::redis`;
//! documented in `docs/shared-state.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

/// Top-level `state:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// The Redis (or Valkey) server replicas share; absent: memory only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSpec {
    /// `redis://host:port/db` or `rediss://` (TLS). Credentials belong in
    /// `username` / `password_file`, not here.
    pub url: String,
    /// ACL user (Redis 6+); `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// File holding the password (AUTH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// PEM CA bundle for `rediss://` (the system roots otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// File holding the secret every replica hashes keys with (HMAC-SHA256),
    /// so replicas agree and no client key is readable in Redis. At least
    /// 16 bytes.
    pub key_secret_file: String,
    /// Prefix of every key and channel (several gateways on one Redis).
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Hard deadline of one call; past it the policy's failure mode applies.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// After a failure, calls are not tried for this long (circuit
    /// breaker): an outage costs one timeout per interval.
    #[serde(default = "default_breaker", with = "duration")]
    pub breaker_interval: Duration,
    /// Share the deny list (admin additions, bans) through Redis.
    #[serde(default = "default_true")]
    pub share_deny_list: bool,
    /// Full resync of the shared deny list (repairs a missed message).
    #[serde(default = "default_sync", with = "duration")]
    pub sync_interval: Duration,
}

fn default_prefix() -> String {
    "portcullis:".to_owned()
}
fn default_timeout() -> Duration {
    Duration::from_millis(50)
}
fn default_breaker() -> Duration {
    Duration::from_secs(1)
}
fn default_sync() -> Duration {
    Duration::from_secs(5)
}
fn default_true() -> bool {
    true
}

/// A rate-limit policy's `store:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitStoreSpec {
    #[serde(default)]
    pub backend: StoreBackend,
    /// What happens while Redis cannot answer in time.
    #[serde(default)]
    pub on_failure: FailureMode,
    /// Replicas sharing the limit: `fail_open` divides the limits by it.
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// Status answered by `fail_closed`.
    #[serde(default = "default_closed_status")]
    pub fail_closed_status: u16,
}

impl Default for LimitStoreSpec {
    fn default() -> Self {
        Self {
            backend: StoreBackend::default(),
            on_failure: FailureMode::default(),
            replicas: default_replicas(),
            fail_closed_status: default_closed_status(),
        }
    }
}

fn default_replicas() -> u32 {
    1
}
fn default_closed_status() -> u16 {
    503
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    #[default]
    Memory,
    Redis,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Decide on the local memory store with the limits ÷ `replicas`.
    #[default]
    FailOpen,
    /// Refuse with `fail_closed_status`.
    FailClosed,
}
