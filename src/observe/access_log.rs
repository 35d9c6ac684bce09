//! The access log: one JSON line per request, written by a background thread.
//!
//! Requests never wait for the log: records go through a bounded queue, and
//! when it is full they are counted as dropped instead of blocking.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::config::spec_logging::AccessLogFormat;
use crate::listener::client_ip::{ClientIp, PeerAddr};
use crate::observe::events::SecurityEvents;
use crate::observe::facts::RequestFacts;
use crate::observe::format;
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
    tx: Option<SyncSender<Vec<u8>>>,
    written: AtomicU64,
    dropped: AtomicU64,
    format: AccessLogFormat,
    redaction: Redaction,
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
                tx: None,
                written: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
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
        let (tx, rx) = sync_channel(capacity);
        let inner = Arc::new(Inner {
            tx: Some(tx),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            format,
            redaction,
        });
        let counter = Arc::clone(&inner);
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out, &counter));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the access-log writer; records will be dropped");
        }
        Self { inner }
    }

    /// The redaction rules records are captured with.
    pub fn redaction(&self) -> &Redaction {
        &self.inner.redaction
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.tx.is_some()
    }

    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.inner.written.load(Ordering::Relaxed)
    }

    /// Records a request refused before it could be parsed (malformed
    /// framing): there is no method, host or path to log.
    pub fn refusal(&self, listener: &str, peer: PeerAddr, status: u16, reason: &'static str) {
        if !self.is_enabled() {
            return;
        }
        let line = serde_json::json!({
            "time": humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            "listener": listener,
            "client_ip": peer.0.ip().to_string(),
            "peer": peer.0.to_string(),
            "status": status,
            "reason": reason,
        });
        let mut buf = line.to_string().into_bytes();
        buf.push(b'\n');
        self.submit(buf);
    }

    /// Queues one formatted line (dropped and counted when the queue is full).
    pub(crate) fn submit(&self, line: Vec<u8>) {
        let Some(tx) = &self.inner.tx else { return };
        match tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn write_loop(rx: Receiver<Vec<u8>>, out: Box<dyn Write + Send>, inner: &Inner) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    // Block for the first record, then drain what is queued and flush once:
    // one write syscall per burst, not per record.
    while let Ok(line) = rx.recv() {
        let mut n = 1;
        let mut ok = out.write_all(&line).is_ok();
        while let Ok(line) = rx.try_recv() {
            ok &= out.write_all(&line).is_ok();
            n += 1;
        }
        ok &= out.flush().is_ok();
        if ok {
            inner.written.fetch_add(n, Ordering::Relaxed);
        } else {
            inner.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }
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
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    request_id: &'a str,
    trace_id: String,
    span_id: String,
    listener: &'a str,
    client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_port: Option<u16>,
    peer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxied_by: Option<String>,
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
    upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    aborted: bool,
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
        if let Some((policy, reason)) = denied_by {
            let client = self.client_ip.map(|ip| ip.to_string()).unwrap_or_default();
            self.events.denied(&self.listener, &client, policy, reason);
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
            })
        });
        if !self.log.is_enabled() {
            return;
        }
        let duration_ms = round3(duration.as_secs_f64() * 1000.0);
        let mut buf = Vec::with_capacity(384);
        let written = match self.log.inner.format {
            AccessLogFormat::Native => self.write_native(duration_ms, &mut buf),
            AccessLogFormat::Ecs => format::ecs::write(&self, duration, &mut buf),
            AccessLogFormat::Combined => format::combined::write(&self, &mut buf),
        };
        if written {
            buf.push(b'\n');
            self.log.submit(buf);
        }
    }

    /// The client's port: known when the client is the peer (directly or
    /// through a PROXY header), not when it came from `X-Forwarded-For`.
    pub(crate) fn client_port(&self) -> Option<u16> {
        let ip = self.client_ip?;
        (ip.addr() == self.peer.0.ip()).then_some(self.peer.0.port())
    }

    fn write_native(&self, duration_ms: f64, buf: &mut Vec<u8>) -> bool {
        let facts = &self.facts;
        let line = Line {
            time: humantime::format_rfc3339_micros(self.time).to_string(),
            trace_id: facts.trace.trace_id_hex(),
            span_id: facts.trace.span_id_hex(),
            client_port: self.client_port(),
            scheme: facts.scheme,
            query: facts.query.as_deref(),
            user_agent: facts.user_agent.as_deref(),
            referer: facts.referer.as_deref(),
            request_bytes: facts.request_bytes,
            headers: HeaderList(&facts.headers),
            request_id: self.request_id.to_str().unwrap_or("-"),
            listener: &self.listener,
            client_ip: self.client_ip.map(|ip| ip.to_string()),
            peer: self.peer.0.to_string(),
            proxied_by: self.proxied_by.map(|a| a.to_string()),
            method: self.method.as_str(),
            host: &self.host,
            path: &self.path,
            protocol: version_name(self.version),
            status: self.status,
            bytes: self.bytes_sent,
            duration_ms,
            route: self.route.as_deref(),
            upstream: self.upstream.map(|a| a.to_string()),
            upstream_ms: self.upstream_ms.map(round3),
            policy: self.policy.as_deref(),
            reason: self.reason,
            aborted: self.body_error,
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
