//! The `rate_limit` policy model (serde): limits, key, scope, action.
//!
//! Compiled into `policy::rate_limit::RateLimit`; semantics are documented in
//! `docs/rate-limiting.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

/// Several limits on one key; a request must conform to all of them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub limits: Vec<LimitSpec>,
    /// The parts the key is made of; `[client_ip]` by default.
    #[serde(default = "default_key")]
    pub key: Vec<KeyPartSpec>,
    /// Client IPv4 addresses are aggregated to this prefix length.
    #[serde(default = "default_v4_prefix")]
    pub ipv4_prefix: u8,
    /// Client IPv6 addresses are aggregated to this prefix length, so rotating
    /// addresses inside one allocation does not escape the limit.
    #[serde(default = "default_v6_prefix")]
    pub ipv6_prefix: u8,
    /// What to do when a header or query part of the key is absent.
    #[serde(default)]
    pub missing_key: MissingKey,
    /// `shared`: one limiter for every route using the policy; `route`: one per route.
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub action: RateLimitAction,
    /// `delay` only: the longest a request is held before it is rejected instead.
    #[serde(default = "default_max_delay", with = "duration")]
    pub max_delay: Duration,
    /// Status of a rejection; 429 by default.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Evaluate and log (`rate_limited_dry_run`), never reject or delay.
    #[serde(default)]
    pub dry_run: bool,
    /// Most keys tracked per limit; beyond it idle keys, then the least
    /// loaded of a sample, are evicted.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// Limits chosen by a request attribute (e.g. a plan header); a request
    /// whose attribute matches a tier uses its limits instead of `limits`.
    #[serde(default)]
    pub tiers: Option<TiersSpec>,
    /// Time-of-day windows with their own limits (when no tier matched).
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    /// Where the state lives: memory (default) or Redis, and the failure mode.
    #[serde(default)]
    pub store: crate::config::spec_redis::LimitStoreSpec,
}

/// The attribute a tier is chosen by, and the tiers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TiersSpec {
    /// Where the attribute comes from (a JWT claim will be another variant).
    pub by: TierAttributeSpec,
    pub levels: Vec<TierSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TierAttributeSpec {
    Header(String),
    Query(String),
    /// A claim of the authenticated principal (path: `a.b`, `roles.0`); a
    /// list claim selects the first tier any of its values names.
    Claim(String),
    /// The principal's roles: the first tier naming one of them.
    Role,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// The attribute value this tier applies to (exact match).
    pub value: String,
    pub limits: Vec<LimitSpec>,
}

/// Windows of the day, in a fixed UTC offset, with their own limits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `+HH:MM` or `-HH:MM`; `+00:00` by default.
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    pub windows: Vec<WindowSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `HH:MM`, inclusive; a window may wrap past midnight (`22:00`–`06:00`).
    pub from: String,
    /// `HH:MM`, exclusive.
    pub to: String,
    pub limits: Vec<LimitSpec>,
}

fn default_offset() -> String {
    "+00:00".to_owned()
}

/// `rate` requests per `per`, with `burst` requests accepted at once from rest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    pub rate: u64,
    #[serde(default = "default_per", with = "duration")]
    pub per: Duration,
    /// Defaults to `rate`.
    #[serde(default)]
    pub burst: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyPartSpec {
    ClientIp,
    Route,
    Host,
    Header(String),
    Query(String),
    /// The authenticated principal's subject.
    Subject,
    /// The principal's client / API-key id.
    ClientId,
    /// A claim of the principal, by path (`tenant`, `org.id`).
    Claim(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingKey {
    /// Use the client IP in place of the missing part.
    #[default]
    ClientIp,
    /// The limit does not apply to the request.
    Skip,
    /// Reject the request (reason `rate_limit_key_missing`).
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Shared,
    Route,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitAction {
    #[default]
    Reject,
    Delay,
}

fn default_key() -> Vec<KeyPartSpec> {
    vec![KeyPartSpec::ClientIp]
}
fn default_v4_prefix() -> u8 {
    32
}
fn default_v6_prefix() -> u8 {
    64
}
fn default_max_delay() -> Duration {
    Duration::from_secs(1)
}
fn default_status() -> u16 {
    429
}
fn default_max_keys() -> usize {
    100_000
}
fn default_per() -> Duration {
    Duration::from_secs(1)
}
