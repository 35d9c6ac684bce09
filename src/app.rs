//! The running gateway: owns the current snapshot and the listeners, applies
//! reloads as a diff, and drains on shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use arc_swap::ArcSwap;
use prometheus_client::registry::Registry;

use crate::admin::api::{AdminState, ReloadOutcome};
use crate::admin::auth;
use crate::admin::server::{self as admin, Readiness};
use crate::config::compile::{self, Snapshot};
use crate::listener::accept::{self, RunningListener};
use crate::listener::bind::bind;
use crate::listener::drain::DrainControl;
use crate::observe::access_log::{AccessLog, QUEUE_CAPACITY};
use crate::observe::collect::StateCollector;
use crate::observe::events::SecurityEvents;
use crate::observe::metrics::Metrics;
use crate::observe::redact::Redaction;
use crate::observe::sink;
use crate::observe::telemetry::Telemetry;
use crate::provider::{Loaded, Origins, Provider};

/// Runs the gateway on `initial` (the provider's first value) until
/// SIGTERM/SIGINT, then drains and returns. Later values come from
/// `provider` when it signals a change, on SIGHUP and on an admin reload.
pub async fn run(mut provider: Box<dyn Provider>, initial: Loaded) -> Result<(), String> {
    let Loaded { config, origins } = initial;
    // Every module registers its metrics into this registry; the admin
    // listener encodes it on `/metrics`.
    let mut registry = Registry::default();
    // Sinks are opened once: a writer thread owns each (a reload that
    // changes them takes effect on restart).
    let access_spec = &config.logging.access;
    let access_log = AccessLog::with_options(
        sink::open(&access_spec.sink, "access")?,
        access_spec.format,
        Redaction::from_spec(access_spec),
        QUEUE_CAPACITY,
    );
    let mut events = SecurityEvents::open(&config.logging.security.sink)?;
    // Remediation is read at startup (a reload changing it applies on restart).
    let signals = config.remediation.as_ref().map(|spec| {
        let (sink, rx) = crate::remediation::signal::SignalSink::channel();
        events = events.clone().with_signals(sink);
        (spec.clone(), rx)
    });
    let shared = crate::state::redis::open_shared(&config.state, &events, &mut registry)?;
    let telemetry = Telemetry {
        access_log,
        events,
        metrics: Metrics::register(&mut registry),
        deny_list: Arc::default(),
        shared,
        anomaly: crate::anomaly::Hub::new(crate::anomaly::metrics::AnomalyMetrics::register(
            &mut registry,
        )),
    };
    // The detector's tick and sketches are read at startup (like remediation).
    tokio::spawn(crate::anomaly::run(
        Arc::clone(&telemetry.anomaly),
        config.anomaly.clone().unwrap_or_default(),
        telemetry.events.clone(),
    ));
    crate::state::redis::start_ban_sync(&config.state, &telemetry);
    if let Some((spec, rx)) = signals {
        tokio::spawn(crate::remediation::run(
            spec,
            rx,
            Arc::clone(&telemetry.deny_list),
            telemetry.events.clone(),
        ));
    }
    let snapshot = Arc::new(
        compile::compile_with(config, None, &telemetry)
            .map_err(|errors| join_errors(&origins, &errors))?,
    );
    telemetry.metrics.config_hash(&snapshot.hash);
    let current = Arc::new(ArcSwap::new(Arc::clone(&snapshot)));
    registry.register_collector(Box::new(StateCollector {
        snapshot: Arc::clone(&current),
        telemetry: telemetry.clone(),
    }));

    let readiness = Readiness::default();
    let admin_addr = snapshot.config.admin.address.clone();
    let admin_addr: std::net::SocketAddr = admin_addr
        .parse()
        .map_err(|_| format!("admin.address {admin_addr:?} is not IP:port"))?;
    // Fail closed: a reachable admin API without a token never starts.
    let token = auth::load(
        admin_addr,
        snapshot
            .config
            .admin
            .token_file
            .as_deref()
            .map(std::path::Path::new),
    )?;
    let admin_socket = bind(admin_addr).map_err(|e| format!("admin.address {admin_addr}: {e}"))?;
    let (reload_tx, mut admin_reloads) = tokio::sync::mpsc::channel(4);
    let admin_state = AdminState {
        readiness: readiness.clone(),
        registry,
        snapshot: Arc::clone(&current),
        telemetry: telemetry.clone(),
        reload: reload_tx,
        token,
    };
    let admin_local =
        admin::start(admin_socket, Arc::new(admin_state)).map_err(|e| e.to_string())?;
    tracing::info!(address = %admin_local, "admin listening");

    let drain = DrainControl::new();
    let mut gateway = Gateway {
        listeners: HashMap::new(),
        snapshot,
        current,
        telemetry,
        drain,
        origins,
    };
    let snapshot = Arc::clone(&gateway.snapshot);
    gateway.apply_listeners(&snapshot)?;
    // Signal handlers and the file watcher are in place before the gateway
    // says it started: a SIGTERM or an edit right after that line must not
    // kill the process or be missed.
    let mut sighup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    // A provider without changes gets a channel that never yields.
    let mut changes = provider
        .changes()
        .unwrap_or_else(|| tokio::sync::mpsc::channel(1).1);
    let changed_trigger = match provider.name() {
        "file" => "file_changed",
        "kubernetes" => "kubernetes",
        _ => "provider_changed",
    };
    readiness.set(true);
    tracing::info!(config_hash = %gateway.snapshot.hash, "gateway started");
    // Expired deny-list entries already stop matching on hit; pruning them
    // keeps an expired specific entry from hiding a live broader one.
    let mut prune = tokio::time::interval(Duration::from_secs(1));

    loop {
        tokio::select! {
            _ = sighup.recv() => {
                gateway.reload(provider.as_mut(), "sighup");
            }
            Some(reply) = admin_reloads.recv() => {
                let _ = reply.send(gateway.reload(provider.as_mut(), "admin"));
            }
            _ = prune.tick() => gateway.telemetry.deny_list.prune_expired(),
            Some(()) = changes.recv() => {
                // Editors (and watch events) come in bursts; let one settle.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while changes.try_recv().is_ok() {}
                gateway.reload(provider.as_mut(), changed_trigger);
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }

    // The grace period of the running config (a reload may have changed it).
    let grace = gateway.snapshot.config.server.shutdown_grace;
    tracing::info!(grace = ?grace, "draining");
    readiness.set(false);
    for listener in gateway.listeners.values() {
        listener.stop();
    }
    let Gateway {
        drain, telemetry, ..
    } = gateway;
    if drain.drain(grace).await {
        tracing::info!("drained; exiting");
    } else {
        tracing::warn!("grace period over with requests still in flight; exiting");
    }
    // The writers batch for a few milliseconds: write the last records.
    telemetry.access_log.flush(LOG_FLUSH_TIMEOUT);
    telemetry.events.flush(LOG_FLUSH_TIMEOUT);
    Ok(())
}

/// How long shutdown waits for the log writers to write what is queued.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

struct Gateway {
    listeners: HashMap<String, RunningListener>,
    snapshot: Arc<Snapshot>,
    /// The snapshot the admin API and metrics read.
    current: Arc<ArcSwap<Snapshot>>,
    telemetry: Telemetry,
    drain: DrainControl,
    /// Where the running config's settings came from.
    origins: Origins,
}

impl Gateway {
    /// Validates and compiles the new config, then swaps it in. Any error
    /// leaves the running config untouched.
    fn reload(&mut self, provider: &mut dyn Provider, trigger: &'static str) -> ReloadOutcome {
        let outcome = self.try_reload(provider, trigger);
        let events = &self.telemetry.events;
        let metrics = &self.telemetry.metrics;
        match &outcome {
            // Counted before the outcome is logged, so whoever waits for
            // the log line sees the metrics already moved.
            ReloadOutcome::Reloaded { config_hash } => {
                metrics.reload("reloaded");
                metrics.config_hash(config_hash);
                events.reload(trigger, Ok(config_hash));
                tracing::info!(trigger, config_hash = %config_hash, "config reloaded");
            }
            ReloadOutcome::Unchanged { .. } => metrics.reload("unchanged"),
            ReloadOutcome::Rejected { errors } => {
                metrics.reload("rejected");
                events.reload(trigger, Err(errors));
                tracing::error!(
                    trigger,
                    errors = errors.len(),
                    "config reload rejected; keeping the running config"
                );
            }
            ReloadOutcome::NotReloadable => {}
        }
        outcome
    }

    fn try_reload(&mut self, provider: &mut dyn Provider, trigger: &'static str) -> ReloadOutcome {
        if !provider.reloadable() {
            tracing::info!(provider = provider.name(), "nothing to reload");
            return ReloadOutcome::NotReloadable;
        }
        let rejected = |errors: Vec<String>| ReloadOutcome::Rejected { errors };
        let Loaded { config, origins } = match provider.load() {
            Ok(loaded) => loaded,
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!(trigger, "{e}");
                }
                return rejected(errors.0.iter().map(|e| e.to_string()).collect());
            }
        };
        if config == *self.snapshot.config {
            tracing::debug!(trigger, "config unchanged");
            return ReloadOutcome::Unchanged {
                config_hash: self.snapshot.hash.clone(),
            };
        }
        let next = match compile::compile_with(config, Some(&self.snapshot), &self.telemetry) {
            Ok(s) => Arc::new(s),
            Err(errors) => {
                // Named by origin: `file:line:col field` or `ns/Kind/name field`.
                let errors: Vec<String> = errors
                    .iter()
                    .map(|e| origins.error(&e.field, e.message.clone()).to_string())
                    .collect();
                for e in &errors {
                    tracing::error!(trigger, "{e}");
                }
                return rejected(errors);
            }
        };
        if let Err(e) = self.apply_listeners(&next) {
            tracing::error!(trigger, error = %e, "listener change failed");
            return rejected(vec![e]);
        }
        self.current.store(Arc::clone(&next));
        self.snapshot = next;
        self.origins = origins;
        ReloadOutcome::Reloaded {
            config_hash: self.snapshot.hash.clone(),
        }
    }

    /// Makes the running listeners match `next`: new ones are bound first (a
    /// bind failure aborts the whole change), then kept ones get their new
    /// runtime and removed ones stop accepting.
    fn apply_listeners(&mut self, next: &Snapshot) -> Result<(), String> {
        let mut bound = Vec::new();
        for runtime in &next.listeners {
            let keep = self
                .listeners
                .get(&*runtime.name)
                .is_some_and(|l| l.configured == runtime.spec.address);
            if !keep {
                let socket = bind(runtime.address).map_err(|e| {
                    format!("listener {:?} on {}: {e}", runtime.name, runtime.address)
                })?;
                bound.push((Arc::clone(runtime), socket));
            }
        }
        let Some(drain) = self.drain.handle() else {
            return Err("gateway is draining".into());
        };
        for runtime in &next.listeners {
            if let (Some(tls), Some(spec)) = (&runtime.tls, &runtime.spec.tls) {
                tls.watch(&runtime.name, spec);
            }
            if let Some(running) = self.listeners.get(&*runtime.name)
                && running.configured == runtime.spec.address
            {
                running.state.store(Arc::clone(runtime));
            }
        }
        for (runtime, socket) in bound {
            let name = runtime.name.to_string();
            if let Some(old) = self.listeners.remove(&name) {
                old.stop();
            }
            let running =
                accept::start(socket, runtime, drain.clone()).map_err(|e| e.to_string())?;
            tracing::info!(listener = %name, address = %running.local_addr, "listener bound");
            self.listeners.insert(name, running);
        }
        let wanted: Vec<&str> = next.listeners.iter().map(|l| &*l.name).collect();
        self.listeners.retain(|name, running| {
            let keep = wanted.contains(&name.as_str());
            if !keep {
                running.stop();
                tracing::info!(listener = %name, "listener removed");
            }
            keep
        });
        Ok(())
    }
}

fn join_errors(origins: &Origins, errors: &[compile::CompileError]) -> String {
    errors
        .iter()
        .map(|e| origins.error(&e.field, e.message.clone()).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
