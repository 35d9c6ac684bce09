//! The per-listener connection limits model (serde): open connections
//! (global, per client IP, per-CIDR overrides), requests per connection,
//! idle timeout and maximum connection age. See `docs/connection-limits.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every field is optional; an unset field is no limit.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionLimitsSpec {
    /// Open connections on this listener.
    #[serde(default)]
    pub max: Option<u32>,
    /// Open connections from one client IP (the PROXY-protocol source when
    /// the listener uses it, else the TCP peer).
    #[serde(default)]
    pub per_client_ip: Option<u32>,
    /// Per-CIDR replacements of `per_client_ip` (most specific prefix wins).
    #[serde(default)]
    pub overrides: Vec<ConnOverrideSpec>,
    /// After this many requests an HTTP/1 connection is closed (`Connection: close`).
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// A connection with no bytes either way for this long is closed
    /// (gracefully: a request in progress is finished first).
    #[serde(default, with = "opt_duration")]
    pub idle_timeout: Option<Duration>,
    /// A connection older than this is closed gracefully.
    #[serde(default, with = "opt_duration")]
    pub max_age: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnOverrideSpec {
    pub cidr: String,
    /// The per-client-IP limit for addresses in `cidr` (e.g. a NAT range).
    #[serde(default)]
    pub per_client_ip: Option<u32>,
    /// Addresses in `cidr` are not limited per IP (still counted globally).
    #[serde(default)]
    pub exempt: bool,
}

/// Minimum request-body upload rate: by `grace + n / bytes_per_sec` after
/// the body starts, at least `n` bytes must have arrived.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MinBodyRateSpec {
    pub bytes_per_sec: u64,
    #[serde(default = "default_grace", with = "crate::config::spec::duration")]
    pub grace: Duration,
}

fn default_grace() -> Duration {
    Duration::from_secs(5)
}

/// `Option<Duration>` as a human string.
pub mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| {
            humantime::parse_duration(&t)
                .map_err(|e| serde::de::Error::custom(format!("invalid duration {t:?}: {e}")))
        })
        .transpose()
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&humantime::format_duration(*v).to_string()),
            None => s.serialize_none(),
        }
    }
}
