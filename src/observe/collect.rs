//! Metrics read from live state at scrape time rather than counted on the
//! request path: log writer counters, endpoint health, deny-list size.

use std::sync::Arc;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::config::compile::Snapshot;
use crate::observe::telemetry::Telemetry;
use crate::upstream::clock::now_ms;

/// Reads the running snapshot and the writers on each scrape.
#[derive(Debug)]
pub struct StateCollector {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub telemetry: Telemetry,
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let streams = [
            ("access", &self.telemetry.access_log),
            ("security", self.telemetry.events.queue()),
        ];
        let mut written = encoder.encode_descriptor(
            "portcullis_log_records_written",
            "Log records written by the writer thread, by stream",
            None,
            MetricType::Counter,
        )?;
        for (stream, log) in streams {
            ConstCounter::new(log.written())
                .encode(written.encode_family(&[("stream", stream)])?)?;
        }
        let mut dropped = encoder.encode_descriptor(
            "portcullis_log_records_dropped",
            "Log records dropped (queue full or write error), by stream",
            None,
            MetricType::Counter,
        )?;
        for (stream, log) in streams {
            ConstCounter::new(log.dropped())
                .encode(dropped.encode_family(&[("stream", stream)])?)?;
        }

        let snapshot = self.snapshot.load();
        let now = now_ms();
        let mut health = encoder.encode_descriptor(
            "portcullis_upstream_endpoint_healthy",
            "1 when the endpoint takes traffic, 0 while passive health ejects it",
            None,
            MetricType::Gauge,
        )?;
        let mut backends: Vec<_> = snapshot.backends.values().collect();
        backends.sort_by(|a, b| a.name.cmp(&b.name));
        for backend in backends {
            for endpoint in &backend.endpoints().endpoints {
                let address = endpoint.address.to_string();
                let labels = [("backend", &*backend.name), ("endpoint", address.as_str())];
                let up = i64::from(endpoint.health.is_available(now));
                ConstGauge::new(up).encode(health.encode_family(&labels)?)?;
            }
        }
        // Certificate expiry (Unix seconds): alert well before it passes.
        // One series per loaded certificate, so cardinality follows config.
        let mut expiry = encoder.encode_descriptor(
            "portcullis_tls_certificate_expiry_timestamp_seconds",
            "When each serving certificate stops being valid (Unix time), by listener and certificate file",
            None,
            MetricType::Gauge,
        )?;
        for listener in &snapshot.listeners {
            let Some(tls) = &listener.tls else { continue };
            for (certificate, not_after) in tls.expiries() {
                let labels = [
                    ("listener", &*listener.name),
                    ("certificate", certificate.as_str()),
                ];
                ConstGauge::new(not_after).encode(expiry.encode_family(&labels)?)?;
            }
        }
        encode_waf(&snapshot, &mut encoder)?;
        let entries = self.telemetry.deny_list.list().len();
        ConstGauge::new(i64::try_from(entries).unwrap_or(i64::MAX)).encode(
            encoder.encode_descriptor(
                "portcullis_deny_list_entries",
                "Live entries in the admin deny list",
                None,
                MetricType::Gauge,
            )?,
        )?;
        Ok(())
    }
}

/// WAF counters of every loaded `waf` policy: requests by outcome, and
/// matches and refusals by rule (only rules that matched at least once;
/// bounded by the rule set).
fn encode_waf(snapshot: &Snapshot, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut wafs: Vec<_> = snapshot
        .policies
        .iter()
        .filter_map(|(name, p)| match &p.kind {
            crate::policy::PolicyKind::Waf(waf) => Some((name.as_str(), waf)),
            _ => None,
        })
        .collect();
    if wafs.is_empty() {
        return Ok(());
    }
    wafs.sort_by_key(|(name, _)| *name);
    let mut requests = encoder.encode_descriptor(
        "portcullis_waf_requests",
        "Requests a waf policy inspected, by outcome (inspected = all, detected = matched and passed, blocked = refused)",
        None,
        MetricType::Counter,
    )?;
    for (name, waf) in &wafs {
        let c = &waf.counters;
        for (outcome, value) in [
            ("inspected", c.inspected.load(Relaxed)),
            ("detected", c.detected.load(Relaxed)),
            ("blocked", c.blocked.load(Relaxed)),
        ] {
            ConstCounter::new(value)
                .encode(requests.encode_family(&[("policy", *name), ("outcome", outcome)])?)?;
        }
    }
    let mut rules = encoder.encode_descriptor(
        "portcullis_waf_rule_matches",
        "Times a WAF rule matched (action = matched) or refused the request (action = blocked), by policy and rule id",
        None,
        MetricType::Counter,
    )?;
    for (name, waf) in &wafs {
        for (id, matched, blocked) in waf.counters.by_rule() {
            let id = id.to_string();
            for (action, value) in [("matched", matched), ("blocked", blocked)] {
                if value > 0 {
                    ConstCounter::new(value).encode(rules.encode_family(&[
                        ("policy", *name),
                        ("rule", id.as_str()),
                        ("action", action),
                    ])?)?;
                }
            }
        }
    }
    Ok(())
}
