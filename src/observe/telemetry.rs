//! The process-wide observation handles a config is compiled against: they
//! outlive every snapshot, so counters, the deny list and the writers
//! survive reloads.

use std::sync::Arc;

use crate::observe::access_log::AccessLog;
use crate::observe::events::SecurityEvents;
use crate::observe::metrics::Metrics;
use crate::policy::deny_list::DenyList;

#[derive(Debug, Clone)]
pub struct Telemetry {
    pub access_log: AccessLog,
    pub events: SecurityEvents,
    pub metrics: Arc<Metrics>,
    pub deny_list: Arc<DenyList>,
    /// Shared stores (Redis) for limits and bans across replicas.
    pub shared: crate::state::SharedState,
    /// Anomaly-detection targets (baselines and switches survive reloads).
    pub anomaly: Arc<crate::anomaly::Hub>,
}

impl Telemetry {
    /// Handles attached to nothing (for compiling a config to check it).
    pub fn detached(access_log: AccessLog) -> Self {
        Self {
            access_log,
            events: SecurityEvents::disabled(),
            metrics: Metrics::detached(),
            deny_list: Arc::default(),
            shared: crate::state::SharedState::default(),
            anomaly: crate::anomaly::Hub::detached(),
        }
    }
}
