//! The `waf` policy's configuration (pure data; compiled in `policy::waf`):
//! the OWASP Core Rule Set and rule files of one's own, run by the native
//! SecLang engine in the request and response phases.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WafSpec {
    /// `block` refuses what the rules deny; `detect` only records it.
    #[serde(default)]
    pub mode: WafMode,
    /// A CRS directory (holding `crs-setup.conf` or
    /// `crs-setup.conf.example`, and `rules/*.conf`), loaded unmodified.
    #[serde(default)]
    pub crs: Option<String>,
    /// SecLang files (a `*` glob in the file name is allowed), loaded after
    /// the CRS in this order.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The CRS blocking paranoia level, 1 (fewest false positives) to 4.
    #[serde(default = "default_paranoia")]
    pub paranoia_level: u8,
    /// Rules up to this level run and are logged without counting towards
    /// blocking (at least `paranoia_level`; default: the same).
    #[serde(default)]
    pub detection_paranoia_level: Option<u8>,
    /// The CRS anomaly score at which a request (inbound) or a response
    /// (outbound) is refused.
    #[serde(default)]
    pub anomaly_threshold: AnomalyThresholds,
    /// Request body inspection.
    #[serde(default)]
    pub request_body: WafRequestBody,
    /// Response body inspection (off by default: it delays every response
    /// of an inspected type until its body is buffered).
    #[serde(default)]
    pub response_body: WafResponseBody,
    /// Refuse with 400 a body its processor cannot parse (`REQBODY_ERROR`)
    /// or a multipart body failing strict checks, as ModSecurity's
    /// recommended rules 200002 and 200003 do.
    #[serde(default = "default_true")]
    pub reject_invalid_bodies: bool,
    /// Rules or targets switched off, everywhere or on some routes/paths.
    #[serde(default)]
    pub exclusions: Vec<WafExclusion>,
    /// CRS settings as `tx.<name>` values (e.g. `allowed_methods`,
    /// `arg_length`, `allowed_request_content_type`).
    #[serde(default)]
    pub crs_settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WafMode {
    #[default]
    Block,
    /// `SecRuleEngine DetectionOnly`: every rule runs, nothing is refused.
    Detect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyThresholds {
    #[serde(default = "default_inbound")]
    pub inbound: u32,
    #[serde(default = "default_outbound")]
    pub outbound: u32,
}

impl Default for AnomalyThresholds {
    fn default() -> Self {
        Self {
            inbound: default_inbound(),
            outbound: default_outbound(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WafRequestBody {
    #[serde(default = "default_true")]
    pub inspect: bool,
    /// Bytes buffered for inspection at most (the body is never held
    /// beyond this).
    #[serde(default = "default_request_body_bytes")]
    pub max_bytes: usize,
    /// What happens to a body longer than `max_bytes`.
    #[serde(default)]
    pub over_limit: OverLimit,
}

impl Default for WafRequestBody {
    fn default() -> Self {
        Self {
            inspect: true,
            max_bytes: default_request_body_bytes(),
            over_limit: OverLimit::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WafResponseBody {
    #[serde(default)]
    pub inspect: bool,
    #[serde(default = "default_response_body_bytes")]
    pub max_bytes: usize,
    /// Media types inspected (others stream through unbuffered).
    #[serde(default = "default_mime_types")]
    pub mime_types: Vec<String>,
}

impl Default for WafResponseBody {
    fn default() -> Self {
        Self {
            inspect: false,
            max_bytes: default_response_body_bytes(),
            mime_types: default_mime_types(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// 413: what cannot be inspected is not forwarded.
    #[default]
    Reject,
    /// Inspect the first `max_bytes` and forward the whole body.
    InspectPartial,
}

/// One exclusion: whole rules (`rule_ids` and/or `tags`), or with `target`
/// only that variable in those rules. With `routes` or `paths` it applies
/// only to requests of those routes / under those path prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WafExclusion {
    /// Rule ids, or ranges as `"942100-942999"`.
    #[serde(default)]
    pub rule_ids: Vec<RuleIdSpec>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A variable such as `ARGS:password` or `REQUEST_COOKIES:session`.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub routes: Vec<String>,
    /// Path prefixes (decoded path, as the route table sees it).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A rule id or an inclusive range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RuleIdSpec {
    Id(u32),
    Range(String),
}

impl RuleIdSpec {
    /// The inclusive range, or why it is not one.
    pub fn range(&self) -> Result<(u32, u32), String> {
        match self {
            RuleIdSpec::Id(id) => Ok((*id, *id)),
            RuleIdSpec::Range(text) => {
                let (lo, hi) = text.split_once('-').unwrap_or((text, text));
                let parse = |s: &str| {
                    s.trim().parse::<u32>().map_err(|_| {
                        format!("`{text}` is not a rule id or a range like 942100-942999")
                    })
                };
                let (lo, hi) = (parse(lo)?, parse(hi)?);
                if lo > hi {
                    return Err(format!("range `{text}` ends before it starts"));
                }
                Ok((lo, hi))
            }
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_paranoia() -> u8 {
    1
}

/// The CRS defaults (critical = 5 points inbound; 4 outbound).
fn default_inbound() -> u32 {
    5
}

fn default_outbound() -> u32 {
    4
}

/// 1 MiB: enough for forms and typical JSON APIs; raise it for routes with
/// larger bodies.
fn default_request_body_bytes() -> usize {
    1 << 20
}

/// ModSecurity's recommended `SecResponseBodyLimit` (512 KiB).
fn default_response_body_bytes() -> usize {
    512 << 10
}

fn default_mime_types() -> Vec<String> {
    ["text/plain", "text/html", "text/xml"]
        .map(String::from)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges() {
        assert_eq!(RuleIdSpec::Id(5).range(), Ok((5, 5)));
        assert_eq!(
            RuleIdSpec::Range("942100-942999".into()).range(),
            Ok((942100, 942999))
        );
        assert_eq!(RuleIdSpec::Range("7".into()).range(), Ok((7, 7)));
        assert!(RuleIdSpec::Range("9-1".into()).range().is_err());
        assert!(RuleIdSpec::Range("x".into()).range().is_err());
    }
}
