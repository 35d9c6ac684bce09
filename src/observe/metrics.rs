//! Prometheus metrics: the families (created once per process, so series
//! survive reloads) and the per-route and per-listener handles the request
//! path increments.
//!
//! Label cardinality is bounded by the configuration: routes, listeners,
//! policies and backends are named in it; methods outside the standard set
//! are counted as `OTHER`; status codes are reduced to their class. Neither
//! the raw path nor the client IP is ever a label.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets in seconds: 0.5 ms to 10 s, roughly ×2.5 apart.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: String,
    route: String,
    method: &'static str,
    status_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    listener: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    listener: String,
    policy: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HashLabels {
    hash: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    listener: String,
    limit: &'static str,
}

/// A route's event with an outcome (retries, mirrored copies).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    listener: String,
    route: String,
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric family the gateway itself owns (the collector in
/// `observe::collect` adds the ones read from live state at scrape time).
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily,
    upstream_duration: HistogramFamily,
    denials: Family<DenialLabels, Counter>,
    accepted: Family<ListenerLabels, Counter>,
    active: Family<ListenerLabels, Gauge>,
    reloads: Family<ResultLabels, Counter>,
    config_info: Family<HashLabels, Gauge>,
    retries: Family<OutcomeLabels, Counter>,
    mirrors: Family<OutcomeLabels, Counter>,
    refused: Family<LimitLabels, Counter>,
}

impl Metrics {
    /// Creates the families and registers them into `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = Self {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            upstream_duration: Family::new_with_constructor(latency_histogram),
            denials: Family::default(),
            accepted: Family::default(),
            active: Family::default(),
            reloads: Family::default(),
            config_info: Family::default(),
            retries: Family::default(),
            mirrors: Family::default(),
            refused: Family::default(),
        };
        registry.register(
            "portcullis_http_requests",
            "Requests answered, by listener, route, method and status class",
            m.requests.clone(),
        );
        registry.register(
            "portcullis_http_request_duration_seconds",
            "Time from request head to the end of the response body",
            m.request_duration.clone(),
        );
        registry.register(
            "portcullis_upstream_duration_seconds",
            "Time from sending upstream to the upstream response head",
            m.upstream_duration.clone(),
        );
        registry.register(
            "portcullis_denials",
            "Requests the gateway refused, by policy and reason code",
            m.denials.clone(),
        );
        registry.register(
            "portcullis_connections_accepted",
            "TCP connections accepted, by listener",
            m.accepted.clone(),
        );
        registry.register(
            "portcullis_connections_active",
            "TCP connections open now, by listener",
            m.active.clone(),
        );
        registry.register(
            "portcullis_config_reloads",
            "Configuration reload attempts by result",
            m.reloads.clone(),
        );
        registry.register(
            "portcullis_config_info",
            "The running configuration's hash (value is always 1)",
            m.config_info.clone(),
        );
        registry.register(
            "portcullis_upstream_retries",
            "Retries of route requests: retried, or refused by the retry budget (budget_exhausted)",
            m.retries.clone(),
        );
        registry.register(
            "portcullis_mirror_requests",
            "Mirrored request copies: sent, failed, or dropped (full, body)",
            m.mirrors.clone(),
        );
        registry.register(
            "portcullis_connections_refused",
            "TCP connections closed unanswered for a connection limit: the listener's max_connections (listener) or max_connections_per_ip (per_ip)",
            m.refused.clone(),
        );
        Arc::new(m)
    }

    /// A detached set, for compiling a config outside a running gateway.
    pub fn detached() -> Arc<Self> {
        Self::register(&mut Registry::default())
    }

    /// Handles for one route on one listener (`route` is `""` for requests
    /// no route matched).
    pub fn route(self: &Arc<Self>, listener: &str, route: &str) -> Arc<RouteMetrics> {
        let labels = RouteLabels {
            listener: listener.to_owned(),
            route: route.to_owned(),
        };
        Arc::new(RouteMetrics {
            duration: self.request_duration.get_or_create(&labels).clone(),
            upstream: self.upstream_duration.get_or_create(&labels).clone(),
            requests: std::array::from_fn(|_| OnceLock::new()),
            labels,
            families: Arc::clone(self),
        })
    }

    /// Handles for one listener's connections.
    pub fn listener(&self, listener: &str) -> ListenerMetrics {
        let labels = ListenerLabels {
            listener: listener.to_owned(),
        };
        let refused = |limit| {
            self.refused
                .get_or_create(&LimitLabels {
                    listener: listener.to_owned(),
                    limit,
                })
                .clone()
        };
        ListenerMetrics {
            accepted: self.accepted.get_or_create(&labels).clone(),
            active: self.active.get_or_create(&labels).clone(),
            refused_listener: refused("listener"),
            refused_per_ip: refused("per_ip"),
        }
    }

    /// Counts a reload attempt (`reloaded`, `unchanged`, `rejected`).
    pub fn reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Publishes the running config hash as the only `config_info` series.
    pub fn config_hash(&self, hash: &str) {
        self.config_info.clear();
        self.config_info
            .get_or_create(&HashLabels {
                hash: hash.to_owned(),
            })
            .set(1);
    }
}

/// Per-route handles, resolved once so the request path only does atomic
/// increments (the family map's lock is taken once per method × class).
#[derive(Debug)]
pub struct RouteMetrics {
    duration: Histogram,
    upstream: Histogram,
    requests: [OnceLock<Counter<u64, AtomicU64>>; METHODS.len() * CLASSES.len()],
    labels: RouteLabels,
    families: Arc<Metrics>,
}

impl RouteMetrics {
    /// Records one finished request.
    pub fn observe(
        &self,
        method: &http::Method,
        status: u16,
        duration_s: f64,
        upstream_ms: Option<f64>,
        denied_by: Option<(&str, &'static str)>,
    ) {
        let m = method_index(method);
        let c = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[m * CLASSES.len() + c]
            .get_or_init(|| {
                self.families
                    .requests
                    .get_or_create(&RequestLabels {
                        listener: self.labels.listener.clone(),
                        route: self.labels.route.clone(),
                        method: METHODS[m],
                        status_class: CLASSES[c],
                    })
                    .clone()
            })
            .inc();
        self.duration.observe(duration_s);
        if let Some(ms) = upstream_ms {
            self.upstream.observe(ms / 1000.0);
        }
        // Denials are rarer than requests and keyed by policy too; the
        // family's read lock is acceptable here.
        if let Some((policy, reason)) = denied_by {
            self.families
                .denials
                .get_or_create(&DenialLabels {
                    listener: self.labels.listener.clone(),
                    policy: policy.to_owned(),
                    reason,
                })
                .inc();
        }
    }
}

impl RouteMetrics {
    fn outcome(&self, family: &Family<OutcomeLabels, Counter>, outcome: &'static str, n: u64) {
        family
            .get_or_create(&OutcomeLabels {
                listener: self.labels.listener.clone(),
                route: self.labels.route.clone(),
                outcome,
            })
            .inc_by(n);
    }

    /// Counts `retries` made and whether the budget refused one. Retries
    /// are rare, so the family's lock is acceptable here.
    pub fn retries(&self, retries: u32, budget_exhausted: bool) {
        if retries > 0 {
            self.outcome(&self.families.retries, "retried", u64::from(retries));
        }
        if budget_exhausted {
            self.outcome(&self.families.retries, "budget_exhausted", 1);
        }
    }

    /// Counts one mirrored copy by outcome (`sent`, `failed`,
    /// `dropped_full`, `dropped_body`).
    pub fn mirror(&self, outcome: &'static str) {
        self.outcome(&self.families.mirrors, outcome, 1);
    }
}

/// Connection counters of one listener.
#[derive(Debug, Clone)]
pub struct ListenerMetrics {
    accepted: Counter,
    active: Gauge,
    refused_listener: Counter,
    refused_per_ip: Counter,
}

impl ListenerMetrics {
    /// Counts an accepted connection; the guard keeps it "active" until dropped.
    pub fn connection(&self) -> ActiveConnection {
        self.accepted.inc();
        self.active.inc();
        ActiveConnection(self.active.clone())
    }

    /// Counts a connection refused for a limit: `per_ip` or the listener's.
    pub fn refused(&self, per_ip: bool) {
        if per_ip {
            self.refused_per_ip.inc();
        } else {
            self.refused_listener.inc();
        }
    }
}

/// Decrements the active-connections gauge when the connection ends.
#[derive(Debug)]
pub struct ActiveConnection(Gauge);

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn method_index(method: &http::Method) -> usize {
    METHODS
        .iter()
        .take(METHODS.len() - 1)
        .position(|m| *m == method.as_str())
        .unwrap_or(METHODS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn counts_by_class_and_bounds_methods() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let r = m.route("web", "api");
        r.observe(&http::Method::GET, 200, 0.001, Some(0.5), None);
        r.observe(&http::Method::GET, 204, 0.001, None, None);
        let odd = http::Method::from_bytes(b"BREW").unwrap();
        r.observe(&odd, 403, 0.001, None, Some(("block", "ip_denied")));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(text.contains(
            r#"portcullis_http_requests_total{listener="web",route="api",method="GET",status_class="2xx"} 2"#
        ), "{text}");
        assert!(
            text.contains(r#"method="OTHER",status_class="4xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"portcullis_denials_total{listener="web",policy="block",reason="ip_denied"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn active_connections_follow_the_guard() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let l = m.listener("web");
        let a = l.connection();
        let _b = l.connection();
        drop(a);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"portcullis_connections_active{listener="web"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"portcullis_connections_accepted_total{listener="web"} 2"#),
            "{text}"
        );
    }
}
