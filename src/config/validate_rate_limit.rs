//! Semantic validation of `rate_limit` and `inflight` policies (field paths
//! resolve to file:line:col in the loader).

use crate::config::spec_inflight::InflightSpec;
use crate::config::spec_rate_limit::{
    KeyPartSpec, LimitSpec, RateLimitAction, RateLimitSpec, TierAttributeSpec,
};
use crate::config::validate::Issues;
use crate::policy::rate_limit::select;

/// Upper bound on tracked keys per limit (about 40 MB at ~36 bytes a key).
const MAX_KEYS: usize = 10_000_000;

pub(crate) fn check(out: &mut Issues, base: &str, r: &RateLimitSpec) {
    check_limits(out, &format!("{base}.limits"), &r.limits);
    if let Some(t) = &r.tiers {
        let b = format!("{base}.tiers");
        match &t.by {
            TierAttributeSpec::Header(name)
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() =>
            {
                out.push(
                    format!("{b}.by.header"),
                    format!("invalid header name {name:?}"),
                )
            }
            _ => {}
        }
        for (i, level) in t.levels.iter().enumerate() {
            check_limits(out, &format!("{b}.levels[{i}].limits"), &level.limits);
        }
    }
    if let Some(s) = &r.schedule {
        let b = format!("{base}.schedule");
        if let Err(e) = select::parse_offset(&s.utc_offset) {
            out.push(format!("{b}.utc_offset"), e);
        }
        for (i, w) in s.windows.iter().enumerate() {
            let f = format!("{b}.windows[{i}]");
            for (name, value) in [("from", &w.from), ("to", &w.to)] {
                if let Err(e) = select::parse_hhmm(value) {
                    out.push(format!("{f}.{name}"), e);
                }
            }
            check_limits(out, &format!("{f}.limits"), &w.limits);
        }
    }
    check_rest(out, base, r);
}

fn check_limits(out: &mut Issues, base: &str, limits: &[LimitSpec]) {
    if limits.is_empty() {
        out.push(base, "at least one limit is required");
    }
    for (i, l) in limits.iter().enumerate() {
        let f = format!("{base}[{i}]");
        if l.rate == 0 || l.rate > 1_000_000_000 {
            out.push(format!("{f}.rate"), "must be between 1 and 1000000000");
        } else if l.per.as_nanos() / u128::from(l.rate) == 0 {
            out.push(format!("{f}.rate"), "more than one request per nanosecond");
        }
        if l.per.is_zero() || l.per.as_secs() > 366 * 86_400 {
            out.push(format!("{f}.per"), "must be between 1ns and 366 days");
        }
        if let Some(burst) = l.burst
            && (burst == 0 || burst > 1_000_000_000)
        {
            out.push(format!("{f}.burst"), "must be between 1 and 1000000000");
        }
    }
}

fn check_rest(out: &mut Issues, base: &str, r: &RateLimitSpec) {
    if r.key.is_empty() {
        out.push(format!("{base}.key"), "key needs at least one part");
    }
    check_key(out, base, &r.key);
    if r.ipv4_prefix > 32 {
        out.push(format!("{base}.ipv4_prefix"), "must be between 0 and 32");
    }
    if r.ipv6_prefix > 128 {
        out.push(format!("{base}.ipv6_prefix"), "must be between 0 and 128");
    }
    if !(400..=599).contains(&r.status) {
        out.push(format!("{base}.status"), "must be a 4xx or 5xx status");
    }
    if r.action == RateLimitAction::Delay && r.max_delay.as_secs() > 60 {
        out.push(format!("{base}.max_delay"), "must be at most 60s");
    }
    if r.max_keys == 0 || r.max_keys > MAX_KEYS {
        out.push(format!("{base}.max_keys"), "must be between 1 and 10000000");
    }
}

pub(crate) fn check_inflight(out: &mut Issues, base: &str, f: &InflightSpec) {
    if f.max == 0 {
        out.push(format!("{base}.max"), "must be at least 1");
    }
    if f.queue > 1_000_000 {
        out.push(format!("{base}.queue"), "must be at most 1000000");
    }
    if f.queue_timeout.as_secs() > 300 {
        out.push(format!("{base}.queue_timeout"), "must be at most 300s");
    }
    if f.max_keys == 0 || f.max_keys > MAX_KEYS {
        out.push(format!("{base}.max_keys"), "must be between 1 and 10000000");
    }
    check_key(out, base, &f.key);
}

fn check_key(out: &mut Issues, base: &str, key: &[KeyPartSpec]) {
    for (i, part) in key.iter().enumerate() {
        match part {
            KeyPartSpec::Header(name) if http::HeaderName::from_bytes(name.as_bytes()).is_err() => {
                out.push(
                    format!("{base}.key[{i}].header"),
                    format!("invalid header name {name:?}"),
                );
            }
            KeyPartSpec::Query(name) if name.is_empty() => {
                out.push(
                    format!("{base}.key[{i}].query"),
                    "query parameter name must not be empty",
                );
            }
            _ => {}
        }
    }
}
