//! The anomaly-detection model (serde): the detector's process-wide settings
//! (top-level `anomaly`) and the per-route / per-listener detection block.
//! Compiled in `anomaly`; documented in `docs/anomaly-detection.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::spec::duration;

/// Top-level `anomaly`: how the detector runs (read at startup).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyGlobalSpec {
    /// The evaluation window: every signal is one value per tick.
    #[serde(default = "default_tick", with = "duration")]
    pub tick: Duration,
    /// Slots of each target's recent-client filter (new-client arrivals).
    #[serde(default = "default_client_slots")]
    pub client_slots: usize,
    /// Counters of each target's heavy-hitter sketch (top talkers).
    #[serde(default = "default_top_talkers")]
    pub top_talkers: usize,
    /// Baselines over all the traffic of each listener (observe only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners: Option<AnomalySpec>,
}

impl Default for AnomalyGlobalSpec {
    fn default() -> Self {
        Self {
            tick: default_tick(),
            client_slots: default_client_slots(),
            top_talkers: default_top_talkers(),
            listeners: None,
        }
    }
}

/// A route's (or every listener's) detection settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySpec {
    /// `observe`: alerts only; `enforce`: also switch to the under-attack chain.
    #[serde(default)]
    pub mode: AnomalyMode,
    /// Policies added after the route's own while it is under attack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub under_attack_policies: Vec<String>,
    /// The signals watched; all of them by default.
    #[serde(default = "all_signals")]
    pub signals: Vec<AnomalySignal>,
    /// Standard deviations above the baseline that count as anomalous.
    #[serde(default = "default_sigmas")]
    pub sigmas: f64,
    /// How long a signal must stay anomalous before it alerts.
    #[serde(default = "default_sustain", with = "duration")]
    pub sustain: Duration,
    /// How long every signal must stay normal before an alert clears.
    #[serde(default = "default_recover", with = "duration")]
    pub recover: Duration,
    /// The baselines' memory: a window's weight halves after this long.
    #[serde(default = "default_half_life", with = "duration")]
    pub half_life: Duration,
    /// Learning time before the first alert.
    #[serde(default = "default_warmup", with = "duration")]
    pub warmup: Duration,
    /// Requests a window needs before ratios (errors, latency, top client
    /// share) are judged.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Smallest deviation that alerts, per signal, whatever the variance.
    #[serde(default)]
    pub floors: FloorsSpec,
}

/// Absolute minimum deviations (so an idle route's tiny variance never alarms).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FloorsSpec {
    /// Requests per second.
    #[serde(default = "default_floor_rate")]
    pub request_rate: f64,
    /// Fraction of answers that are 4xx/5xx (0..1).
    #[serde(default = "default_floor_errors")]
    pub error_ratio: f64,
    /// Mean latency, milliseconds.
    #[serde(default = "default_floor_latency")]
    pub latency_ms: f64,
    /// New clients per second.
    #[serde(default = "default_floor_new_clients")]
    pub new_clients: f64,
    /// The busiest client's fraction of the window's requests (0..1).
    #[serde(default = "default_floor_share")]
    pub top_client_share: f64,
}

impl Default for FloorsSpec {
    fn default() -> Self {
        Self {
            request_rate: default_floor_rate(),
            error_ratio: default_floor_errors(),
            latency_ms: default_floor_latency(),
            new_clients: default_floor_new_clients(),
            top_client_share: default_floor_share(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyMode {
    #[default]
    Observe,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalySignal {
    RequestRate,
    ErrorRatio,
    Latency,
    NewClients,
    TopClientShare,
}

impl AnomalySignal {
    pub const ALL: [AnomalySignal; 5] = [
        AnomalySignal::RequestRate,
        AnomalySignal::ErrorRatio,
        AnomalySignal::Latency,
        AnomalySignal::NewClients,
        AnomalySignal::TopClientShare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalySignal::RequestRate => "request_rate",
            AnomalySignal::ErrorRatio => "error_ratio",
            AnomalySignal::Latency => "latency",
            AnomalySignal::NewClients => "new_clients",
            AnomalySignal::TopClientShare => "top_client_share",
        }
    }
}

fn all_signals() -> Vec<AnomalySignal> {
    AnomalySignal::ALL.to_vec()
}
fn default_tick() -> Duration {
    Duration::from_secs(1)
}
fn default_client_slots() -> usize {
    4096
}
fn default_top_talkers() -> usize {
    16
}
fn default_sigmas() -> f64 {
    4.0
}
fn default_sustain() -> Duration {
    Duration::from_secs(3)
}
fn default_recover() -> Duration {
    Duration::from_secs(30)
}
fn default_half_life() -> Duration {
    Duration::from_secs(600)
}
fn default_warmup() -> Duration {
    Duration::from_secs(60)
}
fn default_min_requests() -> u64 {
    20
}
fn default_floor_rate() -> f64 {
    10.0
}
fn default_floor_errors() -> f64 {
    0.1
}
fn default_floor_latency() -> f64 {
    50.0
}
fn default_floor_new_clients() -> f64 {
    5.0
}
fn default_floor_share() -> f64 {
    0.25
}
