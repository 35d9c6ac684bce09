//! CrowdSec bouncer: pulls ban decisions from a CrowdSec Local API
//! (`GET /v1/decisions/stream` with `X-Api-Key`: everything with
//! `startup=true` first, then only what changed) and keeps them as a feed:
//! IPs and ranges, each with its duration. A refused key (403) or an
//! unreachable LAPI is logged and counted; the decisions already held stay
//! (until their own durations end) and the next poll tries again, asking
//! for the full state again if the first one never succeeded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::{HeaderName, StatusCode};
use ipnet::IpNet;
use serde::Deserialize;

use crate::feeds::Feed;
use crate::feeds::http_get::get;
use crate::upstream::clock::now_ms;

const CALL_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct Stream {
    #[serde(default)]
    new: Option<Vec<Decision>>,
    #[serde(default)]
    deleted: Option<Vec<Decision>>,
}

#[derive(Debug, Deserialize)]
struct Decision {
    #[serde(default)]
    duration: String,
    #[serde(default)]
    scope: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    value: String,
}

/// The bouncer's view: prefix → expiry (`now_ms` milliseconds).
#[derive(Debug, Default)]
pub struct Bouncer {
    decisions: HashMap<IpNet, u64>,
    started: bool,
}

impl Bouncer {
    /// One poll; the feed's table is rebuilt when anything changed.
    pub async fn poll(&mut self, feed: &Arc<Feed>, lapi: &str, key: &str) {
        let url = format!(
            "{}/v1/decisions/stream{}",
            lapi.trim_end_matches('/'),
            if self.started { "" } else { "?startup=true" }
        );
        let headers = [(HeaderName::from_static("x-api-key"), key.to_owned())];
        let call = get(
            &url,
            feed.spec.ca_file.as_deref(),
            &headers,
            feed.spec.max_bytes,
        );
        let answer = match tokio::time::timeout(CALL_DEADLINE, call).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return feed.fail(&format!("CrowdSec LAPI: {e}")),
            Err(_) => return feed.fail("CrowdSec LAPI: no answer within 10 s"),
        };
        match answer.status {
            StatusCode::OK => {}
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                return feed.fail(&format!(
                    "CrowdSec LAPI refused the bouncer API key ({})",
                    answer.status
                ));
            }
            other => return feed.fail(&format!("CrowdSec LAPI answered {other}")),
        }
        let stream: Stream = match serde_json::from_slice(&answer.body) {
            Ok(s) => s,
            Err(e) => return feed.fail(&format!("CrowdSec LAPI: unreadable stream: {e}")),
        };
        self.started = true;
        let changed = self.apply(stream, now_ms());
        if changed || feed.status.loads_ok.load(Ordering::Relaxed) == 0 {
            feed.install_entries(self.decisions.iter().map(|(n, e)| (*n, *e)));
        } else {
            feed.status.unchanged.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Applies deletions then additions; expired decisions are dropped.
    /// True when the set changed.
    fn apply(&mut self, stream: Stream, now: u64) -> bool {
        let before = self.decisions.len();
        let mut changed = false;
        for d in stream.deleted.into_iter().flatten() {
            if let Some(net) = bannable(&d) {
                changed |= self.decisions.remove(&net).is_some();
            }
        }
        for d in stream.new.into_iter().flatten() {
            let Some(net) = bannable(&d) else { continue };
            let Some(left) = go_duration(&d.duration) else {
                continue;
            };
            let expiry = now.saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
            let slot = self.decisions.entry(net).or_insert(0);
            if expiry > *slot {
                *slot = expiry;
                changed = true;
            }
        }
        self.decisions.retain(|_, e| *e > now);
        changed || self.decisions.len() != before
    }
}

/// A ban on an IP or a range; other types (captcha) and scopes (country,
/// AS) are not enforced here.
fn bannable(d: &Decision) -> Option<IpNet> {
    if !d.kind.eq_ignore_ascii_case("ban") {
        return None;
    }
    if !(d.scope.eq_ignore_ascii_case("ip") || d.scope.eq_ignore_ascii_case("range")) {
        return None;
    }
    let net = match d.value.parse::<IpNet>() {
        Ok(n) => n.trunc(),
        Err(_) => IpNet::from(d.value.parse::<std::net::IpAddr>().ok()?),
    };
    // A decision banning everyone is a mistake upstream, not a ban.
    (net.prefix_len() > 0).then_some(net)
}

/// A Go `time.Duration` string as CrowdSec writes it: `59m59.77s`,
/// `4h`, `1h2m3.5s`, `300ms`; a negative one (already expired) is `None`.
pub fn go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration("4h"), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(
            go_duration("59m59.77s"),
            Some(Duration::from_millis(59 * 60_000 + 59_770))
        );
        assert_eq!(go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(go_duration("300ms"), Some(Duration::from_millis(300)));
        for bad in ["", "-5s", "5x", "h", "1..2s"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    fn decision(kind: &str, scope: &str, value: &str, duration: &str) -> Decision {
        Decision {
            kind: kind.into(),
            scope: scope.into(),
            value: value.into(),
            duration: duration.into(),
        }
    }

    #[test]
    fn bans_on_ips_and_ranges_are_applied_and_deleted() {
        let mut b = Bouncer::default();
        let stream = Stream {
            new: Some(vec![
                decision("ban", "Ip", "203.0.113.9", "1h"),
                decision("ban", "Range", "198.51.100.0/24", "59m59.77s"),
                decision("captcha", "Ip", "203.0.113.10", "1h"),
                decision("ban", "Country", "FR", "1h"),
                decision("ban", "Ip", "not-an-ip", "1h"),
                decision("ban", "Range", "0.0.0.0/0", "1h"),
                decision("ban", "Ip", "203.0.113.11", "-1s"),
            ]),
            deleted: None,
        };
        assert!(b.apply(stream, 1000));
        let mut nets: Vec<String> = b.decisions.keys().map(ToString::to_string).collect();
        nets.sort();
        assert_eq!(nets, ["198.51.100.0/24", "203.0.113.9/32"]);
        let stream = Stream {
            new: None,
            deleted: Some(vec![decision("ban", "Ip", "203.0.113.9", "1h")]),
        };
        assert!(b.apply(stream, 2000));
        assert_eq!(b.decisions.len(), 1);
        // Expired decisions go on the next poll.
        let empty = Stream {
            new: None,
            deleted: None,
        };
        assert!(b.apply(empty, 1000 + 3_600_000));
        assert!(b.decisions.is_empty());
    }
}
