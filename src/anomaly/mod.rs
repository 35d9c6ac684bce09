//! Anomaly detection in process: every finished request of a watched route
//! (or listener) sends a small [`Sample`] through a bounded channel
//! (`try_send`: a full queue drops and counts it; a request never waits);
//! one task folds samples into per-target windows and, every tick, judges
//! each signal against its EWMA baseline. An alert is a security event and
//! a metric; on an `enforce` route it also flips the route's atomic so the
//! next requests run the under-attack chain, until the signals have been
//! normal for `recover`.
pub mod baseline;
pub mod detector;
pub mod metrics;
pub mod sketch;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::spec_anomaly::{AnomalyGlobalSpec, AnomalyMode, AnomalySpec};
use crate::observe::events::SecurityEvents;

use detector::{Change, Detector, Observation};
use metrics::{AnomalyMetrics, SignalLabels, SwitchLabels, TargetLabels};

/// Samples queued before the detector is behind and drops them.
pub const QUEUE: usize = 16_384;
/// Targets (route × listener pairs, and listeners) tracked at most; a
/// config past it leaves the rest unwatched (and says so).
pub const MAX_TARGETS: usize = 10_000;

/// One finished request of a watched target.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    target: u32,
    observation: Observation,
}

/// A watched route on one listener, or a whole listener (`route` empty).
/// Targets outlive snapshots: a reload keeps the baselines and the switch.
#[derive(Debug)]
pub struct Target {
    id: u32,
    pub listener: Arc<str>,
    pub route: Arc<str>,
    spec: Mutex<Arc<AnomalySpec>>,
    under_attack: AtomicBool,
    tx: tokio::sync::mpsc::Sender<Sample>,
    hub: std::sync::Weak<Hub>,
}

impl Target {
    /// True while the detector has the target in alert. On the request
    /// path: one relaxed load.
    pub fn under_attack(&self) -> bool {
        self.under_attack.load(Ordering::Relaxed)
    }

    /// Hands one finished request to the detector (never waits).
    pub fn send(&self, observation: Observation) {
        let sample = Sample {
            target: self.id,
            observation,
        };
        if self.tx.try_send(sample).is_err()
            && let Some(hub) = self.hub.upgrade()
        {
            hub.metrics.dropped.inc();
        }
    }

    fn spec(&self) -> Arc<AnomalySpec> {
        self.spec
            .lock()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }
}

/// The registry of targets and the channel into the detector.
#[derive(Debug)]
pub struct Hub {
    tx: tokio::sync::mpsc::Sender<Sample>,
    rx: Mutex<Option<tokio::sync::mpsc::Receiver<Sample>>>,
    targets: Mutex<Vec<Arc<Target>>>,
    pub metrics: AnomalyMetrics,
}

impl Hub {
    pub fn new(metrics: AnomalyMetrics) -> Arc<Self> {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        Arc::new(Self {
            tx,
            rx: Mutex::new(Some(rx)),
            targets: Mutex::default(),
            metrics,
        })
    }

    /// A hub nothing reads (compiling a config to check it).
    pub fn detached() -> Arc<Self> {
        Self::new(AnomalyMetrics::default())
    }

    /// The target for `listener`/`route`, created on first use; a reload
    /// hands it the new spec (the detector restarts its baselines when the
    /// spec changed).
    pub fn target(
        self: &Arc<Self>,
        listener: &str,
        route: &str,
        spec: &AnomalySpec,
    ) -> Option<Arc<Target>> {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = targets
            .iter()
            .find(|t| &*t.listener == listener && &*t.route == route)
        {
            let mut current = t.spec.lock().unwrap_or_else(|p| p.into_inner());
            if **current != *spec {
                *current = Arc::new(spec.clone());
            }
            return Some(Arc::clone(t));
        }
        if targets.len() >= MAX_TARGETS {
            tracing::warn!(
                listener,
                route,
                "anomaly detection: too many targets; not watched"
            );
            return None;
        }
        let target = Arc::new(Target {
            id: targets.len() as u32,
            listener: listener.into(),
            route: route.into(),
            spec: Mutex::new(Arc::new(spec.clone())),
            under_attack: AtomicBool::new(false),
            tx: self.tx.clone(),
            hub: Arc::downgrade(self),
        });
        targets.push(Arc::clone(&target));
        Some(target)
    }

    fn snapshot(&self) -> Vec<Arc<Target>> {
        self.targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Tracked {
    target: Arc<Target>,
    spec: Arc<AnomalySpec>,
    detector: Detector,
}

/// Runs the detector until the process ends.
pub async fn run(hub: Arc<Hub>, global: AnomalyGlobalSpec, events: SecurityEvents) {
    let Some(mut rx) = hub.rx.lock().ok().and_then(|mut rx| rx.take()) else {
        return;
    };
    let tick = global.tick;
    let new_detector =
        |spec: &AnomalySpec| Detector::new(spec, tick, global.client_slots, global.top_talkers);
    let mut tracked: Vec<Option<Tracked>> = Vec::new();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            sample = rx.recv() => {
                let Some(sample) = sample else { return };
                if let Some(Some(t)) = tracked.get_mut(sample.target as usize) {
                    t.detector.observe(&sample.observation);
                }
            }
            _ = interval.tick() => {
                // New targets (a reload added a route) and changed specs.
                for target in hub.snapshot() {
                    let id = target.id as usize;
                    if tracked.len() <= id {
                        tracked.resize_with(id + 1, || None);
                    }
                    let spec = target.spec();
                    let Some(slot) = tracked.get_mut(id) else { continue };
                    if slot.as_ref().is_none_or(|t| t.spec != spec) {
                        // A changed spec starts learning afresh: whatever
                        // the old detector had raised ends here.
                        if let Some(old) = slot.take() {
                            stand_down(&old, &hub.metrics, &events);
                        }
                        *slot = Some(Tracked { detector: new_detector(&spec), spec, target });
                    }
                }
                for t in tracked.iter_mut().flatten() {
                    evaluate(t, &hub.metrics, &events);
                }
            }
        }
    }
}

fn evaluate(t: &mut Tracked, metrics: &AnomalyMetrics, events: &SecurityEvents) {
    let was = t.detector.alerting();
    let changes = t.detector.tick();
    let target = &t.target;
    let labels = |signal: &'static str| SignalLabels {
        listener: target.listener.to_string(),
        route: target.route.to_string(),
        signal,
    };
    for r in t.detector.readings() {
        let l = labels(r.signal.name());
        metrics.baseline.get_or_create(&l).set(r.baseline);
        metrics.observed.get_or_create(&l).set(r.observed);
    }
    let top = t.detector.top_talkers().to_vec();
    for change in &changes {
        match change {
            Change::Alert(r) => {
                let l = labels(r.signal.name());
                metrics.active.get_or_create(&l).set(1);
                metrics.alerts.get_or_create(&l).inc();
                events.anomaly(target, true, r, &top);
            }
            Change::Cleared(r) => {
                metrics
                    .active
                    .get_or_create(&labels(r.signal.name()))
                    .set(0);
                events.anomaly(target, false, r, &[]);
            }
        }
    }
    let now = t.detector.alerting();
    if was == now {
        return;
    }
    target.under_attack.store(now, Ordering::Relaxed);
    if t.spec.mode != AnomalyMode::Enforce {
        return;
    }
    let tl = TargetLabels {
        listener: target.listener.to_string(),
        route: target.route.to_string(),
    };
    metrics.under_attack.get_or_create(&tl).set(i64::from(now));
    metrics
        .switches
        .get_or_create(&SwitchLabels {
            listener: tl.listener,
            route: tl.route,
            direction: if now { "enter" } else { "exit" },
        })
        .inc();
    events.under_attack(target, now, &t.spec.under_attack_policies);
}

/// Clears what `t` had raised (its spec was replaced by a reload).
fn stand_down(t: &Tracked, metrics: &AnomalyMetrics, events: &SecurityEvents) {
    let target = &t.target;
    for signal in &t.spec.signals {
        metrics
            .active
            .get_or_create(&SignalLabels {
                listener: target.listener.to_string(),
                route: target.route.to_string(),
                signal: signal.name(),
            })
            .set(0);
    }
    if !target.under_attack.swap(false, Ordering::Relaxed) {
        return;
    }
    if t.spec.mode == AnomalyMode::Enforce {
        let tl = TargetLabels {
            listener: target.listener.to_string(),
            route: target.route.to_string(),
        };
        metrics.under_attack.get_or_create(&tl).set(0);
        metrics
            .switches
            .get_or_create(&SwitchLabels {
                listener: tl.listener,
                route: tl.route,
                direction: "exit",
            })
            .inc();
        events.under_attack(target, false, &t.spec.under_attack_policies);
    }
}

/// The client of a finished request, as a sample field.
pub fn observation(
    ip: Option<IpAddr>,
    status: u16,
    latency: Duration,
    refused: bool,
) -> Observation {
    Observation {
        ip,
        status,
        latency_ms: latency.as_secs_f64() * 1000.0,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::compile::compile_with;
    use crate::config::load::load_str;
    use crate::observe::access_log::AccessLog;
    use crate::observe::telemetry::Telemetry;
    use crate::route::RequestView;

    const YAML: &str = "
policies:
  - { name: base, ip_filter: { allow: [0.0.0.0/0] } }
  - { name: tight, rate_limit: { limits: [{ rate: 5, per: 1s, burst: 5 }], key: [route] } }
listeners:
  - { name: web, address: 127.0.0.1:0 }
routes:
  - name: api
    policies: [base]
    direct_response: { body: ok }
    anomaly: { mode: enforce, under_attack_policies: [tight] }
";

    fn route(snapshot: &crate::config::compile::Snapshot) -> Arc<crate::config::compile::Route> {
        let headers = http::HeaderMap::new();
        let view = RequestView {
            host: "example.com",
            path: "/",
            query: None,
            method: &http::Method::GET,
            headers: &headers,
        };
        let found = snapshot.listeners[0].routes.find(&view);
        Arc::clone(found.expect("route"))
    }

    #[test]
    fn the_under_attack_chain_adds_policies_and_targets_survive_reloads() {
        let telemetry = Telemetry::detached(AccessLog::disabled());
        let first = compile_with(load_str(YAML, "t.yaml").unwrap(), None, &telemetry).unwrap();
        let r = route(&first);
        let anomaly = r.anomaly.as_ref().expect("watched");
        let strict = anomaly.under_attack.as_ref().expect("enforce mode");
        assert_eq!(r.chain.names().collect::<Vec<_>>(), ["base"]);
        assert_eq!(strict.chain.names().collect::<Vec<_>>(), ["base", "tight"]);
        anomaly.target.under_attack.store(true, Ordering::Relaxed);
        // A reload: the same target (baselines, switch) serves the new snapshot.
        let second =
            compile_with(load_str(YAML, "t.yaml").unwrap(), Some(&first), &telemetry).unwrap();
        let again = route(&second);
        let target = &again.anomaly.as_ref().expect("watched").target;
        assert!(Arc::ptr_eq(target, &anomaly.target));
        assert!(target.under_attack());
    }

    #[tokio::test]
    async fn a_changed_spec_switches_an_attacked_route_back() {
        let hub = Hub::detached();
        let config = load_str(YAML, "t.yaml").unwrap();
        let spec = config.routes[0].anomaly.clone().unwrap();
        let target = hub.target("web", "api", &spec).unwrap();
        let global = AnomalyGlobalSpec {
            tick: Duration::from_millis(50),
            ..Default::default()
        };
        let task = tokio::spawn(run(Arc::clone(&hub), global, SecurityEvents::disabled()));
        // The detector has picked the target up (its baseline gauge exists).
        let labels = SignalLabels {
            listener: "web".into(),
            route: "api".into(),
            signal: "request_rate",
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while hub.metrics.baseline.get(&labels).is_none() {
            assert!(std::time::Instant::now() < deadline, "target not tracked");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        target.under_attack.store(true, Ordering::Relaxed);
        let mut changed = spec.clone();
        changed.sigmas = 6.0;
        hub.target("web", "api", &changed);
        while target.under_attack() {
            assert!(std::time::Instant::now() < deadline, "still under attack");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
    }

    #[test]
    fn a_sample_is_small() {
        assert!(std::mem::size_of::<Sample>() <= 40);
    }
}
