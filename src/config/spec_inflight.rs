//! The `inflight` (concurrency) policy model (serde).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;
use crate::config::spec_rate_limit::{KeyPartSpec, Scope};

/// At most `max` requests at once per key; up to `queue` more wait up to
/// `queue_timeout` for a place, the rest get 503 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InflightSpec {
    pub max: u32,
    /// Empty (the default): one counter for everything the policy guards.
    #[serde(default)]
    pub key: Vec<KeyPartSpec>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub queue: u32,
    #[serde(default = "default_queue_timeout", with = "duration")]
    pub queue_timeout: Duration,
    /// Seconds announced in `Retry-After`.
    #[serde(default = "default_retry_after")]
    pub retry_after: u64,
    /// Most keys with requests in flight at once; past it new keys get 503.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_queue_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_retry_after() -> u64 {
    1
}
fn default_max_keys() -> usize {
    100_000
}
