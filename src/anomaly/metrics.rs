//! The detector's metrics. Labels are configured names (listener, route)
//! and the fixed signal set, so cardinality is bounded by the config.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SignalLabels {
    pub listener: String,
    pub route: String,
    pub signal: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TargetLabels {
    pub listener: String,
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SwitchLabels {
    pub listener: String,
    pub route: String,
    pub direction: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Debug, Default)]
pub struct AnomalyMetrics {
    pub(crate) active: Family<SignalLabels, Gauge>,
    pub(crate) alerts: Family<SignalLabels, Counter>,
    pub(crate) baseline: Family<SignalLabels, FloatGauge>,
    pub(crate) observed: Family<SignalLabels, FloatGauge>,
    pub(crate) under_attack: Family<TargetLabels, Gauge>,
    pub(crate) switches: Family<SwitchLabels, Counter>,
    pub(crate) dropped: Counter,
}

impl AnomalyMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "portcullis_anomaly_active",
            "1 while a signal of a route (or listener) is in alert",
            m.active.clone(),
        );
        registry.register(
            "portcullis_anomaly_alerts",
            "Anomaly alerts raised, by route and signal",
            m.alerts.clone(),
        );
        registry.register(
            "portcullis_anomaly_baseline",
            "The learned baseline (EWMA mean) of each watched signal",
            m.baseline.clone(),
        );
        registry.register(
            "portcullis_anomaly_observed",
            "The last window's value of each watched signal",
            m.observed.clone(),
        );
        registry.register(
            "portcullis_anomaly_under_attack",
            "1 while an enforcing route runs its under-attack chain",
            m.under_attack.clone(),
        );
        registry.register(
            "portcullis_anomaly_mode_switches",
            "Switches into (enter) and out of (exit) the under-attack chain",
            m.switches.clone(),
        );
        registry.register(
            "portcullis_anomaly_samples_dropped",
            "Request samples dropped because the detector fell behind",
            m.dropped.clone(),
        );
        m
    }
}
