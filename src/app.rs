//! The running gateway: owns the current snapshot and the listeners, applies
//! reloads as a diff, and drains on shutdown.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::admin::server::{self as admin, Readiness};
use crate::config::compile::{self, Snapshot};
use crate::config::load;
use crate::config::spec::GatewayConfig;
use crate::listener::accept::{self, RunningListener};
use crate::listener::bind::bind;
use crate::listener::drain::DrainControl;
use crate::observe::access_log::AccessLog;
use crate::provider::file;

/// Where the configuration came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A file, watched and reloaded on change and on SIGHUP.
    File(PathBuf),
    /// The embedded quickstart configuration (no reloads).
    Embedded,
}

/// Runs the gateway until SIGTERM/SIGINT, then drains and returns.
pub async fn run(source: ConfigSource, config: GatewayConfig) -> Result<(), String> {
    let access_log = AccessLog::stdout();
    let snapshot = compile::compile(config, None, &access_log).map_err(join_errors)?;

    let readiness = Readiness::default();
    let admin_addr = snapshot.config.admin.address.clone();
    let admin_socket = admin_addr
        .parse()
        .map_err(|_| format!("admin.address {admin_addr:?} is not IP:port"))
        .and_then(|a| bind(a).map_err(|e| format!("admin.address {admin_addr}: {e}")))?;
    let admin_local = admin::start(admin_socket, readiness.clone()).map_err(|e| e.to_string())?;
    tracing::info!(address = %admin_local, "admin listening");

    let drain = DrainControl::new();
    let mut gateway = Gateway {
        listeners: HashMap::new(),
        snapshot: Arc::new(snapshot),
        access_log,
        drain,
    };
    let snapshot = Arc::clone(&gateway.snapshot);
    gateway.apply_listeners(&snapshot)?;
    // Signal handlers and the file watcher are in place before the gateway
    // says it started: a SIGTERM or an edit right after that line must not
    // kill the process or be missed.
    let mut sighup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let (_watcher, mut changes) = match &source {
        ConfigSource::File(path) => match file::watch(path) {
            Ok((w, rx)) => (Some(w), rx),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
                (None, tokio::sync::mpsc::channel(1).1)
            }
        },
        ConfigSource::Embedded => (None, tokio::sync::mpsc::channel(1).1),
    };
    readiness.set(true);
    tracing::info!(config_hash = %gateway.snapshot.hash, "gateway started");

    loop {
        tokio::select! {
            _ = sighup.recv() => gateway.reload(&source, "sighup"),
            Some(()) = changes.recv() => {
                // Editors write in several steps; let the burst settle.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while changes.try_recv().is_ok() {}
                gateway.reload(&source, "file_changed");
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
    let Gateway { drain, .. } = gateway;
    if drain.drain(grace).await {
        tracing::info!("drained; exiting");
    } else {
        tracing::warn!("grace period over with requests still in flight; exiting");
    }
    Ok(())
}

struct Gateway {
    listeners: HashMap<String, RunningListener>,
    snapshot: Arc<Snapshot>,
    access_log: AccessLog,
    drain: DrainControl,
}

impl Gateway {
    /// Validates and compiles the new config, then swaps it in. Any error
    /// leaves the running config untouched.
    fn reload(&mut self, source: &ConfigSource, trigger: &'static str) {
        let ConfigSource::File(path) = source else {
            tracing::info!("embedded configuration: nothing to reload");
            return;
        };
        let config = match load::load_file(path) {
            Ok(c) => c,
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!(trigger, "{e}");
                }
                tracing::error!(
                    trigger,
                    errors = errors.0.len(),
                    "config reload rejected; keeping the running config"
                );
                return;
            }
        };
        if config == *self.snapshot.config {
            tracing::debug!(trigger, "config unchanged");
            return;
        }
        let next = match compile::compile(config, Some(&self.snapshot), &self.access_log) {
            Ok(s) => Arc::new(s),
            Err(errors) => {
                for e in &errors {
                    tracing::error!(trigger, file = %path.display(), "{e}");
                }
                tracing::error!(
                    trigger,
                    "config reload rejected; keeping the running config"
                );
                return;
            }
        };
        if let Err(e) = self.apply_listeners(&next) {
            tracing::error!(trigger, error = %e, "config reload rejected; keeping the running config");
            return;
        }
        tracing::info!(trigger, config_hash = %next.hash, "config reloaded");
        self.snapshot = next;
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

fn join_errors(errors: Vec<compile::CompileError>) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
