//! The `logging` section of the model: access-log format and redaction, and
//! where the access log and the security event stream are written.
//!
//! Sinks are opened at startup; a reload that changes them is applied on the
//! next restart (a writer thread owns each sink).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSpec {
    #[serde(default)]
    pub access: AccessLogSpec,
    #[serde(default)]
    pub security: SecurityLogSpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogSpec {
    #[serde(default)]
    pub format: AccessLogFormat,
    #[serde(default = "stdout_sink")]
    pub sink: SinkSpec,
    /// Request headers to include in each record (lower-case names).
    /// `authorization`, `proxy-authorization`, `cookie` and those in
    /// `redact_headers` are written as `<redacted>`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// More header names to redact (on top of the credentials above).
    #[serde(default)]
    pub redact_headers: Vec<String>,
    /// Query parameters whose values are replaced by `REDACTED` (on top of
    /// a built-in list of common credential names).
    #[serde(default)]
    pub redact_query_params: Vec<String>,
}

impl Default for AccessLogSpec {
    fn default() -> Self {
        Self {
            format: AccessLogFormat::default(),
            sink: stdout_sink(),
            headers: Vec::new(),
            redact_headers: Vec::new(),
            redact_query_params: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLogFormat {
    /// Portcullis's own JSON (schema: `schemas/access-log.native.json`).
    #[default]
    Native,
    /// Elastic Common Schema JSON (schema: `schemas/access-log.ecs.json`).
    Ecs,
    /// The Apache/nginx combined log format, for humans.
    Combined,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityLogSpec {
    #[serde(default = "stderr_sink")]
    pub sink: SinkSpec,
}

impl Default for SecurityLogSpec {
    fn default() -> Self {
        Self {
            sink: stderr_sink(),
        }
    }
}

/// Where a log stream goes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkSpec {
    Stdout,
    Stderr,
    File(FileSinkSpec),
    Syslog(SyslogSinkSpec),
}

fn stdout_sink() -> SinkSpec {
    SinkSpec::Stdout
}

fn stderr_sink() -> SinkSpec {
    SinkSpec::Stderr
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkSpec {
    pub path: String,
    /// Rotate when the file reaches this many bytes (default 100 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotate when the file is this old (default: never by age).
    #[serde(
        default,
        with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age: Option<Duration>,
    /// Rotated files kept (`path.1` newest ... `path.N`); older are deleted.
    #[serde(default = "default_retain")]
    pub retain: u32,
    /// Chain each record's hash to the previous one (JSON formats only);
    /// check with `portcullis audit verify FILE`.
    #[serde(default)]
    pub hash_chain: bool,
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_retain() -> u32 {
    7
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkSpec {
    /// `IP:port` of the collector.
    pub address: String,
    #[serde(default)]
    pub protocol: SyslogProtocol,
    /// Syslog facility number (default 16, `local0`).
    #[serde(default = "default_facility")]
    pub facility: u8,
}

fn default_facility() -> u8 {
    16
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogProtocol {
    #[default]
    Udp,
    /// TCP with octet-counting framing (RFC 6587).
    Tcp,
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::duration::serialize(v, s),
            None => s.serialize_none(),
        }
    }
}
