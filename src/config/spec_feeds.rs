//! The threat-feed model (serde): top-level `feeds:` (where a list comes
//! from, its format, refresh) and the `threat_feed` policy that attaches
//! feeds to listeners and routes. Compiled in `feeds`; documented in
//! `docs/threat-feeds.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    pub name: String,
    /// A local file (re-read every `refresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// An `https://` URL (conditional requests: ETag / Last-Modified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A CrowdSec Local API whose ban decisions form the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crowdsec: Option<CrowdsecSpec>,
    /// PEM CA bundle for `url` (the bundled Mozilla roots otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub format: FeedFormat,
    /// How often the source is checked; raised to the provider's minimum
    /// (Spamhaus: 1 h).
    #[serde(default = "default_refresh", with = "duration")]
    pub refresh: Duration,
    /// Accept `0.0.0.0/0` / `::/0` lines (they block everyone); refused
    /// (the whole list) unless set.
    #[serde(default)]
    pub allow_default_route: bool,
    /// Largest accepted list, in entries.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
    /// Largest accepted download or file, in bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
}

/// A CrowdSec LAPI polled as a bouncer; `refresh` is the poll interval.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdsecSpec {
    /// `http://127.0.0.1:8080/` or `https://…`.
    pub lapi_url: String,
    /// File holding the bouncer API key (`cscli bouncers add NAME`).
    pub api_key_file: String,
}

fn default_refresh() -> Duration {
    Duration::from_secs(3600)
}
fn default_max_entries() -> usize {
    2_000_000
}
fn default_max_bytes() -> u64 {
    64 * 1024 * 1024
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// One IP or CIDR a line; `#` and `;` start comments.
    #[default]
    Plain,
    /// FireHOL `.netset` (CIDRs) / `.ipset` (IPs): the plain syntax.
    Netset,
    Ipset,
    /// Spamhaus DROP JSON lines (`drop_v4.json`, `drop_v6.json`): one
    /// `{"cidr": ...}` object a line and a closing metadata line whose
    /// `records` count detects a truncated download.
    SpamhausDrop,
}

/// The `threat_feed` policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatFeedPolicySpec {
    /// Names of `feeds` entries.
    pub feeds: Vec<String>,
    #[serde(default)]
    pub action: FeedAction,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedAction {
    /// 403 with reason `threat_feed`.
    #[default]
    Deny,
    /// Let the request through, marked in the access log
    /// (`threat_feed_tagged`) for downstream rules.
    Tag,
}
