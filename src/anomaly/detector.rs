//! One target's detector (a route, or all of a listener): the current
//! window's accumulators, a baseline per watched signal, and the
//! sustain/recover hysteresis that turns deviations into alerts.

use std::net::IpAddr;
use std::time::Duration;

use crate::anomaly::baseline::Ewma;
use crate::anomaly::sketch::{RecentClients, TopTalkers};
use crate::config::spec_anomaly::{AnomalySignal, AnomalySpec};

/// A finished request, as the detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub ip: Option<IpAddr>,
    pub status: u16,
    pub latency_ms: f64,
    /// Refused by one of the gateway's own policies: not the backend's
    /// error or latency (else the under-attack chain's 429s would keep
    /// the error ratio up and the alert on forever).
    pub refused: bool,
}

/// What a tick changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Alert(Reading),
    Cleared(Reading),
}

/// A signal's state at a tick, for events and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub signal: AnomalySignal,
    pub baseline: f64,
    pub std_dev: f64,
    pub observed: f64,
    /// Standard deviations above the baseline (`None` when the baseline
    /// has no variance: the floor decided).
    pub sigmas: Option<f64>,
}

#[derive(Debug)]
struct SignalState {
    signal: AnomalySignal,
    baseline: Ewma,
    over: u32,
    under: u32,
    active: bool,
    last: Option<f64>,
}

#[derive(Debug)]
struct Window {
    requests: u64,
    judged: u64,
    errors: u64,
    latency_ms: f64,
    new_clients: u64,
    top: TopTalkers,
}

#[derive(Debug)]
pub struct Detector {
    spec: AnomalySpec,
    tick_secs: f64,
    sustain: u32,
    recover: u32,
    warmup: u64,
    ticks: u64,
    signals: Vec<SignalState>,
    window: Window,
    clients: RecentClients,
    /// The busiest clients of the last closed window.
    last_top: Vec<(IpAddr, u64)>,
}

/// Whole windows covering `d` (at least one).
fn windows(d: Duration, tick: Duration) -> u32 {
    let n = (d.as_secs_f64() / tick.as_secs_f64().max(1e-3)).ceil();
    (n as u32).max(1)
}

/// While a signal is anomalous its baseline still learns, ten times slower:
/// an attack is not learnt within its own sustain time, but a lasting shift
/// (a launch, a new client app) is absorbed eventually instead of alerting
/// for ever.
const LEARN_WHILE_ANOMALOUS: f64 = 0.1;

/// Top talkers named in an alert.
const TOP_EVIDENCE: usize = 3;

impl Detector {
    pub fn new(spec: &AnomalySpec, tick: Duration, client_slots: usize, top: usize) -> Self {
        let half_life = spec.half_life.as_secs_f64() / tick.as_secs_f64().max(1e-3);
        Self {
            tick_secs: tick.as_secs_f64().max(1e-3),
            sustain: windows(spec.sustain, tick),
            recover: windows(spec.recover, tick),
            warmup: u64::from(if spec.warmup.is_zero() {
                0
            } else {
                windows(spec.warmup, tick)
            }),
            ticks: 0,
            signals: spec
                .signals
                .iter()
                .map(|&signal| SignalState {
                    signal,
                    baseline: Ewma::new(half_life),
                    over: 0,
                    under: 0,
                    active: false,
                    last: None,
                })
                .collect(),
            window: Window {
                requests: 0,
                judged: 0,
                errors: 0,
                latency_ms: 0.0,
                new_clients: 0,
                top: TopTalkers::new(top),
            },
            clients: RecentClients::new(client_slots),
            last_top: Vec::new(),
            spec: spec.clone(),
        }
    }

    pub fn spec(&self) -> &AnomalySpec {
        &self.spec
    }

    pub fn observe(&mut self, o: &Observation) {
        let w = &mut self.window;
        w.requests += 1;
        if let Some(ip) = o.ip {
            w.top.add(ip);
            if self.clients.arrive(ip) {
                w.new_clients += 1;
            }
        }
        if !o.refused {
            w.judged += 1;
            w.latency_ms += o.latency_ms;
            if o.status >= 400 {
                w.errors += 1;
            }
        }
    }

    /// True while any watched signal is in alert.
    pub fn alerting(&self) -> bool {
        self.signals.iter().any(|s| s.active)
    }

    /// The busiest clients of the window just closed (evidence).
    pub fn top_talkers(&self) -> &[(IpAddr, u64)] {
        &self.last_top
    }

    /// Each signal's baseline and last value (metrics).
    pub fn readings(&self) -> impl Iterator<Item = Reading> + '_ {
        self.signals
            .iter()
            .map(|s| reading(s, s.last.unwrap_or(0.0)))
    }

    fn value(&self, signal: AnomalySignal) -> Option<f64> {
        let w = &self.window;
        let enough = |n: u64| n >= self.spec.min_requests.max(1);
        match signal {
            AnomalySignal::RequestRate => Some(w.requests as f64 / self.tick_secs),
            AnomalySignal::NewClients => Some(w.new_clients as f64 / self.tick_secs),
            AnomalySignal::ErrorRatio => {
                enough(w.judged).then(|| w.errors as f64 / w.judged as f64)
            }
            AnomalySignal::Latency => enough(w.judged).then(|| w.latency_ms / w.judged as f64),
            AnomalySignal::TopClientShare => enough(w.top.total()).then(|| {
                w.top
                    .top()
                    .map_or(0.0, |t| t.1 as f64 / w.top.total() as f64)
            }),
        }
    }

    fn floor(&self, signal: AnomalySignal) -> f64 {
        let f = &self.spec.floors;
        match signal {
            AnomalySignal::RequestRate => f.request_rate,
            AnomalySignal::ErrorRatio => f.error_ratio,
            AnomalySignal::Latency => f.latency_ms,
            AnomalySignal::NewClients => f.new_clients,
            AnomalySignal::TopClientShare => f.top_client_share,
        }
    }

    /// Closes the window: judges every signal, learns, and starts the next
    /// window. The top talkers stay readable until the next `observe`.
    pub fn tick(&mut self) -> Vec<Change> {
        self.ticks += 1;
        let warm = self.ticks > self.warmup;
        let values: Vec<(Option<f64>, f64)> = self
            .signals
            .iter()
            .map(|s| (self.value(s.signal), self.floor(s.signal)))
            .collect();
        let sigmas = self.spec.sigmas;
        let mut changes = Vec::new();
        for (s, (value, floor)) in self.signals.iter_mut().zip(values) {
            // Too few requests to judge a ratio: counts as normal.
            let Some(x) = value else {
                s.last = None;
                s.over = 0;
                s.under = s.under.saturating_add(1);
                if s.active && s.under >= self.recover {
                    s.active = false;
                    changes.push(Change::Cleared(reading(s, 0.0)));
                }
                continue;
            };
            s.last = Some(x);
            let anomalous = warm && s.baseline.exceeds(x, sigmas, floor);
            if anomalous {
                s.over = s.over.saturating_add(1);
                s.under = 0;
                if !s.active && s.over >= self.sustain {
                    s.active = true;
                    changes.push(Change::Alert(reading(s, x)));
                }
                s.baseline.update_weighted(x, LEARN_WHILE_ANOMALOUS);
            } else {
                s.under = s.under.saturating_add(1);
                s.over = 0;
                if s.active && s.under >= self.recover {
                    s.active = false;
                    changes.push(Change::Cleared(reading(s, x)));
                }
                s.baseline.update(x);
            }
        }
        let w = &mut self.window;
        w.requests = 0;
        w.judged = 0;
        w.errors = 0;
        w.latency_ms = 0.0;
        w.new_clients = 0;
        self.last_top = w.top.ranked(TOP_EVIDENCE);
        w.top.clear();
        changes
    }
}

fn reading(s: &SignalState, observed: f64) -> Reading {
    let sd = s.baseline.std_dev();
    Reading {
        signal: s.signal,
        baseline: s.baseline.mean(),
        std_dev: sd,
        observed,
        sigmas: (sd > 0.0).then(|| s.baseline.sigmas(observed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec_anomaly::FloorsSpec;

    fn spec() -> AnomalySpec {
        AnomalySpec {
            mode: Default::default(),
            under_attack_policies: Vec::new(),
            signals: AnomalySignal::ALL.to_vec(),
            sigmas: 4.0,
            sustain: Duration::from_secs(2),
            recover: Duration::from_secs(3),
            half_life: Duration::from_secs(20),
            warmup: Duration::from_secs(5),
            min_requests: 10,
            floors: FloorsSpec::default(),
        }
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 | n))
    }

    /// One 1 s window of `n` requests from `clients` distinct sources.
    fn window(d: &mut Detector, n: u32, clients: u32, first: u32, status: u16) -> Vec<Change> {
        for i in 0..n {
            d.observe(&Observation {
                ip: Some(ip(first + i % clients)),
                status,
                latency_ms: 2.0,
                refused: false,
            });
        }
        d.tick()
    }

    fn alerts(changes: &[Change]) -> Vec<AnomalySignal> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Alert(r) => Some(r.signal),
                Change::Cleared(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_flood_alerts_after_sustain_and_clears_after_recover() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        for i in 0..30 {
            // Steady: 20 ± 2 requests a second from 4 clients.
            let changes = window(&mut d, 18 + (i % 3) * 2, 4, 1, 200);
            assert!(changes.is_empty(), "window {i}: {changes:?}");
        }
        assert!(!d.alerting());
        // Flood: 400 r/s from 200 new sources. The first window is only
        // anomalous; the second (sustain 2s) alerts.
        assert!(window(&mut d, 400, 200, 1000, 200).is_empty());
        let raised = alerts(&window(&mut d, 400, 200, 1200, 200));
        assert!(raised.contains(&AnomalySignal::RequestRate), "{raised:?}");
        assert!(raised.contains(&AnomalySignal::NewClients), "{raised:?}");
        assert!(!raised.contains(&AnomalySignal::ErrorRatio));
        assert!(d.alerting());
        // Back to normal: still alerting for recover - 1 windows (hysteresis).
        assert!(window(&mut d, 20, 4, 1, 200).is_empty());
        assert!(window(&mut d, 20, 4, 1, 200).is_empty());
        assert!(d.alerting());
        let cleared = window(&mut d, 20, 4, 1, 200);
        assert!(
            cleared
                .iter()
                .any(|c| matches!(c, Change::Cleared(r) if r.signal == AnomalySignal::RequestRate))
        );
        assert!(!d.alerting());
    }

    #[test]
    fn a_short_spike_under_sustain_does_not_alert() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        for _ in 0..30 {
            window(&mut d, 20, 4, 1, 200);
        }
        assert!(window(&mut d, 400, 4, 1, 200).is_empty());
        assert!(window(&mut d, 20, 4, 1, 200).is_empty());
        assert!(window(&mut d, 400, 4, 1, 200).is_empty());
        assert!(!d.alerting());
    }

    #[test]
    fn an_anomaly_during_the_alert_keeps_it_up() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        for _ in 0..30 {
            window(&mut d, 20, 4, 1, 200);
        }
        window(&mut d, 400, 4, 1, 200);
        window(&mut d, 400, 4, 1, 200);
        assert!(d.alerting());
        // Normal, normal, flood again: the recover count restarts.
        window(&mut d, 20, 4, 1, 200);
        window(&mut d, 20, 4, 1, 200);
        window(&mut d, 400, 4, 1, 200);
        window(&mut d, 20, 4, 1, 200);
        window(&mut d, 20, 4, 1, 200);
        assert!(d.alerting());
    }

    #[test]
    fn errors_and_one_heavy_client_are_signals() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        for _ in 0..30 {
            window(&mut d, 40, 8, 1, 200);
        }
        // Same rate, but all 5xx, all from one client.
        window(&mut d, 40, 1, 1, 503);
        let raised = alerts(&window(&mut d, 40, 1, 1, 503));
        assert!(raised.contains(&AnomalySignal::ErrorRatio), "{raised:?}");
        assert!(
            raised.contains(&AnomalySignal::TopClientShare),
            "{raised:?}"
        );
        assert!(!raised.contains(&AnomalySignal::RequestRate));
        assert_eq!(d.top_talkers()[0], (ip(1), 40));
    }

    #[test]
    fn refusals_do_not_count_as_backend_errors_and_warmup_is_quiet() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        // During warm-up even a flood is only learnt.
        assert!(window(&mut d, 500, 100, 1, 200).is_empty());
        for _ in 0..30 {
            window(&mut d, 40, 8, 1, 200);
        }
        for _ in 0..5 {
            for _ in 0..40 {
                d.observe(&Observation {
                    ip: Some(ip(1)),
                    status: 429,
                    latency_ms: 0.1,
                    refused: true,
                });
            }
            let raised = alerts(&d.tick());
            assert!(!raised.contains(&AnomalySignal::ErrorRatio), "{raised:?}");
        }
    }

    #[test]
    fn an_idle_route_never_alarms_on_a_trickle() {
        let mut d = Detector::new(&spec(), Duration::from_secs(1), 1024, 8);
        for _ in 0..60 {
            assert!(d.tick().is_empty());
        }
        // 5 r/s on a route that saw nothing: under the 10 r/s floor.
        for _ in 0..5 {
            assert!(window(&mut d, 5, 5, 1, 200).is_empty());
        }
    }
}
