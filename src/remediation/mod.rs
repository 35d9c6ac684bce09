//! Automated remediation in process, on live signals: each finished request
//! sends a [`signal::Signal`] (from the completed access record, through a
//! bounded sink); scenarios pour matching signals into per-client leaky
//! buckets; an overflow bans the client on the deny list with a TTL that
//! escalates for repeat offenders (or only logs, `dry_run`). The deny list
//! is shared through Redis when configured, so the ban holds on every
//! replica; it is visible and removable in the admin API like any entry.
pub mod bucket;
pub mod signal;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::spec_remediation::{RemediationSpec, ScenarioSpec, SignalKind};
use crate::net::cidr_table::{CidrTable, parse_cidr};
use crate::observe::events::SecurityEvents;
use crate::policy::deny_list::DenyList;

use bucket::Buckets;
use signal::Signal;

/// Offence counts kept for escalation (bounded like the buckets).
const MAX_OFFENDERS: usize = 100_000;

/// The shipped scenarios, shaped like CrowdSec hub defaults.
pub fn default_scenarios() -> Vec<ScenarioSpec> {
    let bans = vec![
        Duration::from_secs(4 * 3600),
        Duration::from_secs(24 * 3600),
    ];
    vec![
        ScenarioSpec {
            name: "brute_force".into(),
            signal: SignalKind::AuthFailure,
            capacity: 5,
            leak: Duration::from_secs(10),
            ban: bans.clone(),
        },
        ScenarioSpec {
            name: "probing".into(),
            signal: SignalKind::DistinctClientErrors,
            capacity: 10,
            leak: Duration::from_secs(10),
            ban: bans.clone(),
        },
        ScenarioSpec {
            name: "crawling".into(),
            signal: SignalKind::NonStatic,
            capacity: 40,
            leak: Duration::from_millis(500),
            ban: bans,
        },
    ]
}

struct Scenario {
    spec: ScenarioSpec,
    buckets: Buckets,
}

fn counts(kind: SignalKind, s: &Signal) -> bool {
    match kind {
        // The backend's refusals and the gateway's own refusals of
        // credentials or by authorization rules; a 403 from an IP rule or a
        // feed says nothing about credentials, and a request that brought
        // none is not a failed login.
        SignalKind::AuthFailure => {
            s.failed_auth || (matches!(s.status, 401 | 403) && s.reason.is_none())
        }
        SignalKind::DistinctClientErrors => (400..500).contains(&s.status) && s.status != 429,
        SignalKind::DistinctNotFound => s.status == 404,
        SignalKind::RateLimited => s.status == 429,
        SignalKind::NonStatic => !s.static_asset,
        SignalKind::StrictRefusal => {
            s.status == 400 && s.reason.is_some_and(|r| r != "waf_blocked")
        }
        SignalKind::WafBlocked => s.reason == Some("waf_blocked"),
    }
}

/// Runs until the sink's senders are gone.
pub async fn run(
    spec: RemediationSpec,
    mut signals: tokio::sync::mpsc::Receiver<Signal>,
    deny_list: Arc<DenyList>,
    events: SecurityEvents,
) {
    let mut allow = CidrTable::new();
    for cidr in &spec.allow {
        if let Ok(net) = parse_cidr(cidr) {
            allow.insert(net, ());
        }
    }
    let mut specs = if spec.defaults {
        default_scenarios()
    } else {
        Vec::new()
    };
    // A configured scenario with a shipped name replaces it.
    for s in &spec.scenarios {
        specs.retain(|d| d.name != s.name);
        specs.push(s.clone());
    }
    let mut scenarios: Vec<Scenario> = specs
        .into_iter()
        .map(|s| Scenario {
            buckets: Buckets::new(
                s.capacity,
                s.leak,
                matches!(
                    s.signal,
                    SignalKind::DistinctClientErrors | SignalKind::DistinctNotFound
                ),
                spec.max_clients,
            ),
            spec: s,
        })
        .collect();
    let mut offences: HashMap<IpAddr, u32> = HashMap::new();
    let replica = replica_name();
    while let Some(signal) = signals.recv().await {
        // Banned or listed clients keep sending; they are already handled.
        if allow.contains(signal.ip)
            || matches!(signal.reason, Some("ip_deny_list" | "threat_feed"))
        {
            continue;
        }
        let now = Instant::now();
        for scenario in &mut scenarios {
            if !counts(scenario.spec.signal, &signal) {
                continue;
            }
            let Some(evidence) = scenario.buckets.pour(signal.ip, signal.path_hash, now) else {
                continue;
            };
            if offences.len() >= MAX_OFFENDERS && !offences.contains_key(&signal.ip) {
                offences.clear();
            }
            let n = offences.entry(signal.ip).or_insert(0);
            let ttl = scenario
                .spec
                .ban
                .get(*n as usize)
                .or(scenario.spec.ban.last())
                .copied()
                .unwrap_or(Duration::from_secs(3600));
            *n = n.saturating_add(1);
            let offence = *n;
            let cidr = signal.ip.to_string();
            let reason = format!("remediation:{}", scenario.spec.name);
            if !spec.dry_run
                && let Err(e) =
                    deny_list.add(&cidr, Some(ttl), &reason, &format!("remediation@{replica}"))
            {
                tracing::warn!(error = %e, "remediation ban not applied");
            }
            events.remediation(&crate::observe::events::RemediationDecision {
                scenario: &scenario.spec.name,
                client_ip: &cidr,
                evidence,
                offence,
                ttl,
                dry_run: spec.dry_run,
                replica: &replica,
            });
        }
    }
}

fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| format!("pid-{}", std::process::id()))
}

#[cfg(test)]
mod signal_kind_tests {
    use super::*;

    fn signal(status: u16, reason: Option<&'static str>) -> Signal {
        Signal {
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
            status,
            path_hash: 0,
            static_asset: false,
            reason,
            failed_auth: false,
        }
    }

    #[test]
    fn waf_refusals_count_as_waf_hits_not_as_framing_refusals() {
        let waf = signal(403, Some("waf_blocked"));
        let waf_body = signal(400, Some("waf_blocked"));
        let framing = signal(400, Some("cl_and_te"));
        assert!(counts(SignalKind::WafBlocked, &waf));
        assert!(counts(SignalKind::WafBlocked, &waf_body));
        assert!(!counts(SignalKind::WafBlocked, &framing));
        assert!(!counts(SignalKind::StrictRefusal, &waf_body));
        assert!(counts(SignalKind::StrictRefusal, &framing));
    }
}
