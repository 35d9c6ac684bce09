//! The security event stream: what a SIEM alerts on, separate from the access
//! log (denials, config reloads, admin actions).
//!
//! Each event is one JSON line with a stable `event.kind` / `event.action`
//! pair (listed in `docs/logging.md`). Events share the access log's writer
//! design: a bounded queue to a thread, dropped and counted when full.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::observe::access_log::AccessLog;

/// Stable action names; renaming one breaks SIEM rules, so they are consts.
pub mod action {
    pub const REQUEST_DENIED: &str = "request_denied";
    pub const CONFIG_RELOADED: &str = "config_reloaded";
    pub const CONFIG_RELOAD_FAILED: &str = "config_reload_failed";
    pub const ADMIN_REQUEST: &str = "admin_request";
    pub const DENY_LIST_ADDED: &str = "deny_list_added";
    pub const DENY_LIST_REMOVED: &str = "deny_list_removed";
    pub const SHARED_STORE_DOWN: &str = "shared_store_down";
    pub const SHARED_STORE_UP: &str = "shared_store_up";
    pub const REMEDIATION_BAN: &str = "remediation_ban";
    pub const WAF_BLOCKED: &str = "waf_blocked";
    pub const WAF_DETECTED: &str = "waf_detected";
    pub const ANOMALY_DETECTED: &str = "anomaly_detected";
    pub const ANOMALY_CLEARED: &str = "anomaly_cleared";
    pub const UNDER_ATTACK_ENTERED: &str = "under_attack_entered";
    pub const UNDER_ATTACK_EXITED: &str = "under_attack_exited";
}

/// One admin API call, for the audit trail.
#[derive(Debug)]
pub struct AdminCall<'a> {
    pub action: &'a str,
    pub who: &'a str,
    pub authenticated: bool,
    pub what: &'a str,
    pub status: u16,
    pub detail: Option<Value>,
}

/// Where security events go. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct SecurityEvents {
    queue: AccessLog,
    /// Remediation's signal sink: every completed access record reaches it
    /// through the listener's events handle (no pipeline stage involved).
    signals: Option<crate::remediation::signal::SignalSink>,
}

/// One remediation decision, for its security event.
#[derive(Debug)]
pub struct RemediationDecision<'a> {
    pub scenario: &'a str,
    pub client_ip: &'a str,
    /// Events in the bucket when it overflowed.
    pub evidence: u32,
    /// The client's offence count (escalation).
    pub offence: u32,
    pub ttl: std::time::Duration,
    pub dry_run: bool,
    pub replica: &'a str,
}

impl SecurityEvents {
    /// Events as JSON lines on stderr.
    pub fn stderr() -> Self {
        Self {
            queue: AccessLog::to_writer(Box::new(std::io::stderr())),
            signals: None,
        }
    }

    /// Events into `sink` (see `logging.security.sink`).
    pub fn open(sink: &crate::config::spec_logging::SinkSpec) -> Result<Self, String> {
        Ok(Self::to_writer(crate::observe::sink::open(
            sink, "security",
        )?))
    }

    /// Writes queued events now and waits for them, at most `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        self.queue.flush(timeout);
    }

    /// Events into any writer (tests, files).
    pub fn to_writer(out: Box<dyn std::io::Write + Send>) -> Self {
        Self {
            queue: AccessLog::to_writer(out),
            signals: None,
        }
    }

    pub fn disabled() -> Self {
        Self {
            queue: AccessLog::disabled(),
            signals: None,
        }
    }

    /// The same stream, also feeding remediation `signals`.
    pub fn with_signals(mut self, signals: crate::remediation::signal::SignalSink) -> Self {
        self.signals = Some(signals);
        self
    }

    /// Hands one finished request to remediation (when enabled).
    pub fn signal(&self, make: impl FnOnce() -> Option<crate::remediation::signal::Signal>) {
        if let Some(sink) = &self.signals
            && let Some(signal) = make()
        {
            sink.send(signal);
        }
    }

    /// Signals dropped because remediation fell behind.
    pub fn signals_dropped(&self) -> u64 {
        self.signals.as_ref().map_or(0, |s| s.dropped())
    }

    /// A remediation scenario overflowed for a client.
    pub fn remediation(&self, d: &RemediationDecision<'_>) {
        self.emit(
            "alert",
            "intrusion_detection",
            action::REMEDIATION_BAN,
            if d.dry_run { "unknown" } else { "success" },
            json!({
                "source": {"ip": d.client_ip},
                "rule": {"name": d.scenario},
                "portcullis": {"remediation": {
                    "scenario": d.scenario,
                    "evidence": d.evidence,
                    "offence": d.offence,
                    "ttl_secs": d.ttl.as_secs(),
                    "dry_run": d.dry_run,
                    "replica": d.replica,
                }},
            }),
        );
    }

    /// A signal of a route (or listener) went into alert, or cleared.
    pub fn anomaly(
        &self,
        target: &crate::anomaly::Target,
        raised: bool,
        r: &crate::anomaly::detector::Reading,
        top: &[(std::net::IpAddr, u64)],
    ) {
        let (action, outcome) = if raised {
            (action::ANOMALY_DETECTED, "unknown")
        } else {
            (action::ANOMALY_CLEARED, "success")
        };
        let top: Vec<Value> = top
            .iter()
            .map(|(ip, n)| json!({"ip": ip.to_string(), "requests": n}))
            .collect();
        self.emit(
            if raised { "alert" } else { "event" },
            "intrusion_detection",
            action,
            outcome,
            json!({
                "rule": {"name": r.signal.name(), "ruleset": "anomaly"},
                "portcullis": {"listener": &*target.listener, "route": &*target.route, "anomaly": {
                    "signal": r.signal.name(),
                    "baseline": round3(r.baseline),
                    "std_dev": round3(r.std_dev),
                    "observed": round3(r.observed),
                    "sigmas": r.sigmas.map(round3),
                    "top_talkers": top,
                }},
            }),
        );
    }

    /// An enforcing route switched to (or back from) its under-attack chain.
    pub fn under_attack(
        &self,
        target: &crate::anomaly::Target,
        entered: bool,
        policies: &[String],
    ) {
        let action = if entered {
            action::UNDER_ATTACK_ENTERED
        } else {
            action::UNDER_ATTACK_EXITED
        };
        self.emit(
            if entered { "alert" } else { "event" },
            "intrusion_detection",
            action,
            "success",
            json!({
                "portcullis": {"listener": &*target.listener, "route": &*target.route,
                    "under_attack_policies": policies},
            }),
        );
    }

    pub fn written(&self) -> u64 {
        self.queue.written()
    }

    /// The queue behind the stream (for its written/dropped counters).
    pub fn queue(&self) -> &AccessLog {
        &self.queue
    }

    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// A request refused by a policy (`ip_filter`, the deny list, limits).
    pub fn denied(&self, listener: &str, client_ip: &str, policy: &str, reason: &str) {
        self.emit(
            "alert",
            "network",
            action::REQUEST_DENIED,
            "failure",
            json!({
                "source": {"ip": client_ip},
                "rule": {"name": policy},
                "portcullis": {"listener": listener, "reason": reason},
            }),
        );
    }

    /// A WAF finding: refused (`waf_blocked`), or matched and let through
    /// (`waf_detected`: detect mode, or under the anomaly threshold).
    pub fn waf(&self, listener: &str, client_ip: &str, finding: &crate::policy::waf::Finding) {
        let (action, outcome) = if finding.blocked_by.is_some() {
            (action::WAF_BLOCKED, "failure")
        } else {
            (action::WAF_DETECTED, "unknown")
        };
        self.emit(
            "alert",
            "intrusion_detection",
            action,
            outcome,
            json!({
                "source": {"ip": client_ip},
                "rule": {"name": &*finding.policy, "id": finding.blocked_by.map(|id| id.to_string()), "ruleset": "waf"},
                "portcullis": {"listener": listener, "waf": finding},
            }),
        );
    }

    /// A config reload: success names the new hash, failure its errors.
    pub fn reload(&self, trigger: &str, outcome: Result<&str, &[String]>) {
        let (action, result, detail) = match outcome {
            Ok(hash) => (
                action::CONFIG_RELOADED,
                "success",
                json!({"portcullis": {"trigger": trigger, "config_hash": hash}}),
            ),
            Err(errors) => (
                action::CONFIG_RELOAD_FAILED,
                "failure",
                json!({"portcullis": {"trigger": trigger}, "error": {"message": errors}}),
            ),
        };
        self.emit("event", "configuration", action, result, detail);
    }

    /// An admin API call: who (the peer, and whether a token was shown),
    /// what (method and path), and the answer's status.
    /// `detail` (e.g. the deny-list entry) goes under `portcullis.admin`.
    pub fn admin(&self, call: AdminCall<'_>) {
        let outcome = if call.status < 400 {
            "success"
        } else {
            "failure"
        };
        let mut body = json!({
            "source": {"address": call.who},
            "user": {"authenticated": call.authenticated},
            "http": {"request": {"target": call.what}, "response": {"status_code": call.status}},
        });
        if let Some(detail) = call.detail {
            body["portcullis"] = json!({"admin": detail});
        }
        self.emit("event", "iam", call.action, outcome, body);
    }

    /// The shared store (Redis) became unavailable (policies switch to
    /// their failure mode) or available again.
    pub fn store_switch(&self, down: bool, error: &str) {
        let (action, outcome) = if down {
            (action::SHARED_STORE_DOWN, "failure")
        } else {
            (action::SHARED_STORE_UP, "success")
        };
        let mut body = json!({"portcullis": {"store": "redis"}});
        if !error.is_empty() {
            body["error"] = json!({"message": error});
        }
        self.emit("event", "database", action, outcome, body);
    }

    fn emit(&self, kind: &str, category: &str, action: &str, outcome: &str, mut body: Value) {
        if !self.queue.is_enabled() {
            return;
        }
        if let Value::Object(map) = &mut body {
            map.insert(
                "@timestamp".into(),
                humantime::format_rfc3339_micros(SystemTime::now())
                    .to_string()
                    .into(),
            );
            map.insert(
                "event".into(),
                json!({
                    "kind": kind,
                    "category": [category],
                    "action": action,
                    "outcome": outcome,
                    "dataset": "portcullis.security",
                }),
            );
        }
        let mut line = body.to_string().into_bytes();
        line.push(b'\n');
        self.queue.submit(&line);
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_carry_stable_kind_and_action() {
        let sink = Shared::default();
        let events = SecurityEvents::to_writer(Box::new(sink.clone()));
        events.denied("web", "192.0.2.1", "block", "ip_denied");
        events.reload("sighup", Err(&["bad".to_owned()]));
        let deadline = Instant::now() + Duration::from_secs(5);
        while events.written() < 2 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"]["kind"], "alert");
        assert_eq!(lines[0]["event"]["action"], "request_denied");
        assert_eq!(lines[0]["source"]["ip"], "192.0.2.1");
        assert_eq!(lines[1]["event"]["action"], "config_reload_failed");
        assert_eq!(lines[1]["error"]["message"][0], "bad");
    }
}
