//! The access log: one JSON line per request, written by a background thread.
//!
//! Requests never wait for the log: records are formatted into a reused
//! per-thread buffer and copied into a bounded batch queue
//! (`observe::log_queue`); when it is full they are counted as dropped
//! instead of blocking.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::spec_logging::AccessLogFormat;
use crate::listener::client_ip::{ClientIp, PeerAddr};
use crate::observe::events::SecurityEvents;
use crate::observe::facts::RequestFacts;
use crate::observe::format;
use crate::observe::log_queue::LogQueue;
use crate::observe::metrics::RouteMetrics;
use crate::observe::redact::Redaction;

/// Records queued before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Where access records go. Cloning is cheap (one `Arc`).
#[derive(Debug, Clone)]
pub struct AccessLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` when logging is off.
    queue: Option<Arc<LogQueue>>,
    format: AccessLogFormat,
    redaction: Redaction,
}

impl Drop for Inner {
    /// The last handle is gone: the writer writes what is queued and stops.
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.close();
        }
    }
}

impl AccessLog {
    /// Starts the writer thread on stdout.
    pub fn stdout() -> Self {
        Self::to_writer(Box::new(std::io::stdout()))
    }

    /// A log that discards every record (access logging turned off).
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(Inner {
                queue: None,
                format: AccessLogFormat::Native,
                redaction: Redaction::default(),
            }),
        }
    }

    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Self::with_options(
            out,
            AccessLogFormat::Native,
            Redaction::default(),
            QUEUE_CAPACITY,
        )
    }

    /// A writer thread on `out` formatting records as `format`, with a
    /// queue of `capacity` records.
    pub fn with_options(
        out: Box<dyn Write + Send>,
        format: AccessLogFormat,
        redaction: Redaction,
        capacity: usize,
    ) -> Self {
        let queue = Arc::new(LogQueue::new(capacity));
        let writer = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(&writer, out));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the access-log writer; records will be dropped");
            queue.close();
        }
        Self {
            inner: Arc::new(Inner {
                queue: Some(queue),
                format,
                redaction,
            }),
        }
    }

    /// The redaction rules records are captured with.
    pub fn redaction(&self) -> &Redaction {
        &self.inner.redaction
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.queue.is_some()
    }

    pub fn dropped(&self) -> u64 {
        let queue = self.inner.queue.as_ref();
        queue.map_or(0, |q| q.dropped.load(Ordering::Relaxed))
    }

    pub fn written(&self) -> u64 {
        let queue = self.inner.queue.as_ref();
        queue.map_or(0, |q| q.written.load(Ordering::Relaxed))
    }

    /// Writes what is queued now and waits for it, at most `timeout`
    /// (shutdown: records wait up to `log_queue::MAX_DELAY` otherwise).
    pub fn flush(&self, timeout: Duration) {
        if let Some(queue) = &self.inner.queue {
            queue.flush(timeout);
        }
    }

    /// Records a request refused before it could be parsed (malformed
    /// framing): there is no method, host or path to log.
    pub fn refusal(&self, listener: &str, peer: PeerAddr, status: u16, reason: &'static str) {
        if !self.is_enabled() {
            return;
        }
        let refusal = format::refusal::Refusal {
            time: SystemTime::now(),
            listener,
            peer: peer.0,
            status,
            reason,
        };
        let mut buf = Vec::with_capacity(256);
        let written = match self.inner.format {
            AccessLogFormat::Native => refusal.write_native(&mut buf),
            AccessLogFormat::Ecs => refusal.write_ecs(&mut buf),
            AccessLogFormat::Combined => refusal.write_combined(&mut buf),
        };
        if written {
            buf.push(b'\n');
            self.submit(&buf);
        }
    }

    /// Queues one formatted line ending in `\n` (dropped and counted when
    /// the queue is full).
    pub(crate) fn submit(&self, line: &[u8]) {
        if let Some(queue) = &self.inner.queue {
            queue.push(line);
        }
    }
}

/// The writer thread: one `write` per batch, whole records only (sinks split
/// on newlines and rotate between writes).
fn write_loop(queue: &LogQueue, mut out: Box<dyn Write + Send>) {
    let mut batch = Vec::with_capacity(crate::observe::log_queue::BATCH_BYTES);
    // No write yet: the first record goes out at once.
    let mut last_write = Instant::now()
        .checked_sub(crate::observe::log_queue::MAX_DELAY)
        .unwrap_or_else(Instant::now);
    while let Some(records) = queue.next_batch(&mut batch, last_write) {
        let ok = out.write_all(&batch).is_ok() & out.flush().is_ok();
        last_write = Instant::now();
        let counter = if ok { &queue.written } else { &queue.dropped };
        counter.fetch_add(records, Ordering::Relaxed);
        // A burst can grow the batch far past its usual size; give it back.
        if batch.capacity() > 4 * crate::observe::log_queue::BATCH_BYTES {
            batch = Vec::with_capacity(crate::observe::log_queue::BATCH_BYTES);
        }
    }
}

thread_local! {
    /// Each worker thread formats its records here: no allocation per record.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// Everything known about one request, filled in by the pipeline's stages.
#[derive(Debug)]
pub struct AccessRecord {
    pub log: AccessLog,
    pub time: SystemTime,
    pub start: Instant,
    pub request_id: http::HeaderValue,
    pub listener: Arc<str>,
    pub peer: PeerAddr,
    /// The load balancer that sent a PROXY header naming `peer`.
    pub proxied_by: Option<SocketAddr>,
    pub client_ip: Option<ClientIp>,
    pub method: http::Method,
    pub host: String,
    pub path: String,
    pub version: http::Version,
    pub status: u16,
    pub bytes_sent: u64,
    pub route: Option<Arc<str>>,
    pub upstream: Option<SocketAddr>,
    pub upstream_ms: Option<f64>,
    /// The policy that denied the request, if one did.
    pub policy: Option<Arc<str>>,
    /// Why the gateway answered itself (`ip_denied`, `no_route`, ...).
    pub reason: Option<&'static str>,
    pub body_error: bool,
    /// The matched route's metrics (the listener's unrouted ones until then).
    pub metrics: Arc<RouteMetrics>,
    pub events: SecurityEvents,
    /// Trace, query, user agent... (captured only while logging).
    pub facts: RequestFacts,
    /// Handshake facts on TLS listeners.
    pub tls: Option<Arc<crate::tls::identity::TlsFacts>>,
    /// Who the request was, when an authentication policy proved it.
    pub principal: Option<Arc<crate::policy::Principal>>,
    /// The authorization rule that denied the request.
    pub rule: Option<Arc<str>>,
    /// The gateway refused the client's credentials (or an authorization
    /// rule refused it): a failed login, for remediation.
    pub failed_auth: bool,
    /// What a `waf` policy found (matched rules, scores, messages).
    pub waf: Option<Box<crate::policy::waf::Finding>>,
    /// The matched route's anomaly detector, when it is watched.
    pub anomaly: Option<Arc<crate::anomaly::Target>>,
    /// The listener's anomaly detector, when listeners are watched.
    pub listener_anomaly: Option<Arc<crate::anomaly::Target>>,
    /// Served by the route's under-attack chain.
    pub under_attack: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    time: Shown<humantime::Rfc3339Timestamp>,
    request_id: &'a str,
    trace_id: &'a str,
    span_id: &'a str,
    listener: &'a str,
    client_ip: Option<Shown<ClientIp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_port: Option<u16>,
    peer: Shown<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxied_by: Option<Shown<SocketAddr>>,
    method: &'a str,
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referer: Option<&'a str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_bytes: Option<u64>,
    bytes: u64,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<Shown<SocketAddr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waf: Option<&'a crate::policy::waf::Finding>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    aborted: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    under_attack: bool,
    #[serde(skip_serializing_if = "HeaderList::is_empty")]
    headers: HeaderList<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cipher: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_subject: Option<&'a str>,
}

/// A value written as a JSON string straight from its `Display`, without an
/// intermediate `String`.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Logged request headers as a JSON object.
struct HeaderList<'a>(&'a [(Arc<str>, String)]);

impl HeaderList<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for HeaderList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

impl AccessRecord {
    /// Formats the record and queues it for the writer.
    pub fn emit(self) {
        let duration = self.start.elapsed();
        let denied_by = self.policy.as_deref().zip(self.reason);
        self.metrics.observe(
            &self.method,
            self.status,
            duration.as_secs_f64(),
            self.upstream_ms,
            denied_by,
        );
        let client = || self.client_ip.map(|ip| ip.to_string()).unwrap_or_default();
        match (&self.waf, denied_by) {
            // A WAF finding is its own event, with the rules and score.
            (Some(finding), _) => self.events.waf(&self.listener, &client(), finding),
            (None, Some((policy, reason))) => {
                self.events
                    .denied(&self.listener, &client(), policy, reason)
            }
            (None, None) => {}
        }
        self.events.signal(|| {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            self.path.hash(&mut h);
            Some(crate::remediation::signal::Signal {
                ip: self.client_ip?.addr(),
                status: self.status,
                path_hash: h.finish(),
                static_asset: crate::remediation::signal::is_static(&self.path),
                reason: self.reason,
                failed_auth: self.failed_auth,
            })
        });
        if self.anomaly.is_some() || self.listener_anomaly.is_some() {
            let observation = crate::anomaly::observation(
                self.client_ip.map(|ip| ip.addr()),
                self.status,
                duration,
                self.reason.is_some() || self.policy.is_some(),
            );
            for target in [&self.anomaly, &self.listener_anomaly]
                .into_iter()
                .flatten()
            {
                target.send(observation);
            }
        }
        if !self.log.is_enabled() {
            return;
        }
        let duration_ms = round3(duration.as_secs_f64() * 1000.0);
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            let written = match self.log.inner.format {
                AccessLogFormat::Native => self.write_native(duration_ms, buf),
                AccessLogFormat::Ecs => format::ecs::write(&self, duration, buf),
                AccessLogFormat::Combined => format::combined::write(&self, buf),
            };
            if written {
                buf.push(b'\n');
                self.log.submit(buf);
            }
            // One huge record (many logged headers) must not pin its memory.
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::with_capacity(1024);
            }
        });
    }

    /// The client's port: known when the client is the peer (directly or
    /// through a PROXY header), not when it came from `X-Forwarded-For`.
    pub(crate) fn client_port(&self) -> Option<u16> {
        let ip = self.client_ip?;
        (ip.addr() == self.peer.0.ip()).then_some(self.peer.0.port())
    }

    fn write_native(&self, duration_ms: f64, buf: &mut Vec<u8>) -> bool {
        let facts = &self.facts;
        let (trace_id, span_id) = (facts.trace.trace_id_bytes(), facts.trace.span_id_bytes());
        let line = Line {
            time: Shown(humantime::format_rfc3339_micros(self.time)),
            // Hex digits only: always UTF-8.
            trace_id: std::str::from_utf8(&trace_id).unwrap_or_default(),
            span_id: std::str::from_utf8(&span_id).unwrap_or_default(),
            client_port: self.client_port(),
            scheme: facts.scheme,
            query: facts.query.as_deref(),
            user_agent: facts.user_agent.as_deref(),
            referer: facts.referer.as_deref(),
            request_bytes: facts.request_bytes,
            headers: HeaderList(&facts.headers),
            request_id: self.request_id.to_str().unwrap_or("-"),
            listener: &self.listener,
            client_ip: self.client_ip.map(Shown),
            peer: Shown(self.peer.0),
            proxied_by: self.proxied_by.map(Shown),
            method: self.method.as_str(),
            host: &self.host,
            path: &self.path,
            protocol: version_name(self.version),
            status: self.status,
            bytes: self.bytes_sent,
            duration_ms,
            route: self.route.as_deref(),
            upstream: self.upstream.map(Shown),
            upstream_ms: self.upstream_ms.map(round3),
            policy: self.policy.as_deref(),
            reason: self.reason,
            rule: self.rule.as_deref(),
            auth_method: self.principal.as_ref().map(|p| p.method.as_str()),
            subject: self.principal.as_ref().map(|p| p.subject.as_str()),
            issuer: self.principal.as_ref().and_then(|p| p.issuer.as_deref()),
            key_id: self.principal.as_ref().and_then(|p| p.key_id.as_deref()),
            waf: self.waf.as_deref(),
            aborted: self.body_error,
            under_attack: self.under_attack,
            tls_version: self.tls.as_ref().map(|t| t.version),
            tls_cipher: self.tls.as_ref().map(|t| t.cipher),
            sni: self.tls.as_ref().and_then(|t| t.sni.as_deref()),
            client_subject: self
                .tls
                .as_ref()
                .and_then(|t| t.client.as_ref())
                .map(|c| c.subject.as_str()),
        };
        serde_json::to_writer(buf, &line).is_ok()
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub(crate) fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

#[cfg(test)]
#[path = "access_log_tests.rs"]
mod tests;
