//! The automated-remediation model (serde): leaky-bucket scenarios over the
//! gateway's own per-request signals, and what a scenario that overflows
//! does. Compiled in `remediation`; documented in `docs/remediation.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationSpec {
    /// Log decisions (security events) without banning anyone.
    #[serde(default)]
    pub dry_run: bool,
    /// Clients never banned (health checkers, offices, monitoring).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Include the shipped scenarios (brute_force, probing, crawling).
    #[serde(default = "default_true")]
    pub defaults: bool,
    #[serde(default)]
    pub scenarios: Vec<ScenarioSpec>,
    /// Clients tracked per scenario (beyond: the least recent is dropped).
    #[serde(default = "default_max_clients")]
    pub max_clients: usize,
}

fn default_true() -> bool {
    true
}
fn default_max_clients() -> usize {
    100_000
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    pub signal: SignalKind,
    /// Events the bucket holds; one more overflows it.
    pub capacity: u32,
    /// One event leaks out every `leak`.
    #[serde(with = "duration")]
    pub leak: Duration,
    /// Ban durations for a client's 1st, 2nd, ... overflow (the last
    /// repeats): escalation for repeat offenders.
    #[serde(default = "default_bans", with = "durations")]
    pub ban: Vec<Duration>,
}

fn default_bans() -> Vec<Duration> {
    vec![
        Duration::from_secs(4 * 3600),
        Duration::from_secs(24 * 3600),
    ]
}

/// Which responses a scenario counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// 401 and 403 answers (failed authentication or authorisation).
    AuthFailure,
    /// 4xx answers on distinct paths (a scanner probing for files).
    DistinctClientErrors,
    /// 404 answers on distinct paths.
    DistinctNotFound,
    /// 429 answers (a client that ignores its rate limit).
    RateLimited,
    /// Requests for non-static paths (crawling; static = by extension).
    NonStatic,
    /// Requests refused by the framing / strict HTTP checks (400).
    StrictRefusal,
    /// Requests a `waf` policy refused (attack patterns).
    WafBlocked,
}

mod durations {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&humantime::format_duration(*d).to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| humantime::parse_duration(t).map_err(serde::de::Error::custom))
            .collect()
    }
}
