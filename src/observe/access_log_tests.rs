//! Unit tests of the access log writer: one line per record, the full
//! queue drops and counts, a disabled log writes nothing.
use super::*;
use std::sync::Mutex;

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

fn record(log: AccessLog) -> AccessRecord {
    AccessRecord {
        log,
        time: SystemTime::now(),
        start: Instant::now(),
        request_id: http::HeaderValue::from_static("abc"),
        listener: "web".into(),
        peer: PeerAddr("127.0.0.1:5555".parse().unwrap()),
        proxied_by: None,
        client_ip: Some(ClientIp::from_trusted_source("10.0.0.1".parse().unwrap())),
        method: http::Method::GET,
        host: "example.com".into(),
        path: "/x\"y".into(),
        version: http::Version::HTTP_11,
        status: 403,
        bytes_sent: 12,
        route: Some("r".into()),
        upstream: None,
        upstream_ms: None,
        policy: Some("block".into()),
        reason: Some("ip_denied"),
        body_error: false,
        metrics: crate::observe::metrics::Metrics::detached().route("web", "r"),
        events: SecurityEvents::disabled(),
        facts: RequestFacts::default(),
        tls: None,
        principal: None,
        rule: None,
        failed_auth: false,
        waf: None,
        anomaly: None,
        listener_anomaly: None,
        under_attack: false,
    }
}

#[test]
fn writes_one_json_line_per_record() {
    let sink = Shared::default();
    let log = AccessLog::to_writer(Box::new(sink.clone()));
    record(log.clone()).emit();
    record(log.clone()).emit();
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while log.written() < 2 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["client_ip"], "10.0.0.1");
    assert_eq!(v["peer"], "127.0.0.1:5555");
    assert_eq!(v["path"], "/x\"y");
    assert_eq!(v["reason"], "ip_denied");
    assert_eq!(v["status"], 403);
}

/// A writer that says when it is entered, then blocks until released.
struct Gate {
    entered: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}
impl Write for Gate {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = self.entered.send(());
        let _ = self.release.recv();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let gate = Gate {
        entered: entered_tx,
        release: release_rx,
    };
    let log = AccessLog::with_options(
        Box::new(gate),
        AccessLogFormat::Native,
        Redaction::default(),
        4,
    );
    // Park the writer inside a write, as a stuck disk or pipe would.
    record(log.clone()).emit();
    entered
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let start = Instant::now();
    for _ in 0..100 {
        record(log.clone()).emit();
    }
    // Four fit in the queue; the rest are dropped at once, not waited for.
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(log.dropped(), 96);
    drop(release);
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while log.written() < 5 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!((log.written(), log.dropped()), (5, 96));
}

#[test]
fn disabled_log_writes_nothing() {
    let log = AccessLog::disabled();
    record(log.clone()).emit();
    assert_eq!(log.written() + log.dropped(), 0);
}
