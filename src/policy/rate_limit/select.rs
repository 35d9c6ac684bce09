//! Which set of limits applies to a request: a tier chosen by a request
//! attribute, else the active time-of-day window, else the default set.
//!
//! The attribute is read through [`TierAttribute`], so a JWT claim (once
//! authentication lands) is one more variant, not a redesign.

use http::HeaderName;

use crate::config::spec_rate_limit::{ScheduleSpec, TierAttributeSpec, TiersSpec};
use crate::policy::PolicyInput;

const DAY: u64 = 86_400;

#[derive(Debug)]
pub enum TierAttribute {
    Header(HeaderName),
    Query(Box<str>),
    Claim(Box<str>),
    Role,
}

impl TierAttribute {
    pub fn reads_principal(&self) -> bool {
        matches!(self, TierAttribute::Claim(_) | TierAttribute::Role)
    }

    /// The first tier (index into `tiers`) the request's attribute names.
    fn tier(&self, input: &PolicyInput<'_>, tiers: &[Box<[u8]>]) -> Option<usize> {
        let find = |value: &[u8]| tiers.iter().position(|t| **t == *value);
        match self {
            TierAttribute::Header(name) => find(input.headers.get(name)?.as_bytes()),
            TierAttribute::Query(name) => {
                let value = input.query?.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (k == &**name).then_some(v.as_bytes())
                })?;
                find(value)
            }
            TierAttribute::Claim(path) => match input.principal?.claim(path)? {
                serde_json::Value::String(s) => find(s.as_bytes()),
                serde_json::Value::Array(items) => tiers.iter().position(|t| {
                    items
                        .iter()
                        .any(|v| v.as_str().is_some_and(|s| s.as_bytes() == &**t))
                }),
                other => find(other.to_string().as_bytes()),
            },
            TierAttribute::Role => {
                let roles = &input.principal?.roles;
                tiers
                    .iter()
                    .position(|t| roles.iter().any(|r| r.as_bytes() == &**t))
            }
        }
    }
}

/// Maps a request (and the wall clock) to an index into the policy's limit
/// sets: 0 is `limits`, then one per tier, then one per window.
#[derive(Debug, Default)]
pub struct Selector {
    attribute: Option<TierAttribute>,
    tiers: Vec<Box<[u8]>>,
    offset_secs: i64,
    /// Seconds of the local day: `[from, to)`, wrapping when `from > to`.
    windows: Vec<(u64, u64)>,
}

impl Selector {
    pub fn compile(
        tiers: Option<&TiersSpec>,
        schedule: Option<&ScheduleSpec>,
    ) -> Result<Self, String> {
        let mut out = Selector::default();
        if let Some(t) = tiers {
            out.attribute = Some(match &t.by {
                TierAttributeSpec::Header(name) => TierAttribute::Header(
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("tiers.by.header: invalid header name {name:?}"))?,
                ),
                TierAttributeSpec::Query(name) => TierAttribute::Query(name.as_str().into()),
                TierAttributeSpec::Claim(path) => TierAttribute::Claim(path.as_str().into()),
                TierAttributeSpec::Role => TierAttribute::Role,
            });
            out.tiers = t.levels.iter().map(|l| l.value.as_bytes().into()).collect();
        }
        if let Some(s) = schedule {
            out.offset_secs = parse_offset(&s.utc_offset)?;
            for (i, w) in s.windows.iter().enumerate() {
                let from =
                    parse_hhmm(&w.from).map_err(|e| format!("schedule.windows[{i}].from: {e}"))?;
                let to = parse_hhmm(&w.to).map_err(|e| format!("schedule.windows[{i}].to: {e}"))?;
                out.windows.push((from, to));
            }
        }
        Ok(out)
    }

    /// Whether the tier attribute is read from the principal.
    pub fn reads_principal(&self) -> bool {
        self.attribute
            .as_ref()
            .is_some_and(TierAttribute::reads_principal)
    }

    /// The limit set for `input` at Unix time `wall_secs`.
    pub fn select(&self, input: &PolicyInput<'_>, wall_secs: u64) -> usize {
        if let Some(attribute) = &self.attribute
            && let Some(i) = attribute.tier(input, &self.tiers)
        {
            return 1 + i;
        }
        if !self.windows.is_empty() {
            let local = (wall_secs as i64 + self.offset_secs).rem_euclid(DAY as i64) as u64;
            for (i, &(from, to)) in self.windows.iter().enumerate() {
                let inside = if from <= to {
                    (from..to).contains(&local)
                } else {
                    local >= from || local < to
                };
                if inside {
                    return 1 + self.tiers.len() + i;
                }
            }
        }
        0
    }
}

/// `HH:MM` to seconds of the day.
pub fn parse_hhmm(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u64, u64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) || text.len() != 5 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// `+HH:MM` / `-HH:MM` to seconds east of UTC.
pub fn parse_offset(text: &str) -> Result<i64, String> {
    let bad = || format!("utc_offset {text:?} is not +HH:MM or -HH:MM");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let secs = parse_hhmm(rest).map_err(|_| bad())?;
    if secs > 14 * 3600 {
        return Err(bad());
    }
    Ok(sign * secs as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets() {
        assert_eq!(parse_hhmm("09:30"), Ok(9 * 3600 + 1800));
        assert_eq!(parse_hhmm("24:00"), Ok(DAY));
        assert!(parse_hhmm("9:30").is_err());
        assert!(parse_hhmm("25:00").is_err());
        assert_eq!(parse_offset("-05:00"), Ok(-5 * 3600));
        assert!(parse_offset("05:00").is_err());
    }
}
