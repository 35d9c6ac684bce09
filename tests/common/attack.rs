//! Shared pieces of the attack suites: the gateway config they run against,
//! raw exchanges that must end (the gateway closes) within a deadline, and
//! the health check every attack test ends with.

use super::*;

/// One listener `web` with small limits; a route for host `blocked.example`
/// and one for `/admin` that deny every loopback client (the test clients),
/// and a catch-all; all go to `upstream`. `http_extra` adds keys under the listener's `http:`.
pub fn config(upstream: SocketAddr, http_extra: &str) -> String {
    let head_timeout = if http_extra.contains("head_timeout") {
        ""
    } else {
        ", head_timeout: 5s"
    };
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: web
    address: 127.0.0.1:0
    http: {{ max_head_bytes: 8192, max_headers: 32{head_timeout}{http_extra} }}
policies:
  - name: no-loopback
    ip_filter: {{ deny: [127.0.0.0/8] }}
backends:
  - name: app
    endpoints: [{{ address: "{upstream}" }}]
    timeouts: {{ connect: 1s, request: 3s }}
    health: {{ consecutive_failures: 1000 }}
routes:
  - name: blocked-host
    match: {{ hosts: [blocked.example] }}
    policies: [no-loopback]
    backend: app
  - name: admin
    match: {{ path: {{ prefix: /admin }} }}
    policies: [no-loopback]
    backend: app
  - name: all
    match: {{ path: {{ prefix: / }} }}
    backend: app
"#
    )
}

/// A gateway on `config` in front of a recording upstream.
pub async fn setup(http_extra: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("up").await;
    let gw = Gateway::start(&config(up.addr, http_extra));
    (gw, up)
}

/// Writes `bytes` on a fresh connection and reads until the gateway closes
/// it. Panics if it is still open after `WAIT`: every attack must end in a
/// response and a close, never a hang. A reset after the reply counts as
/// the close.
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The gateway may close before reading everything; the reply decides.
    let _ = stream.write_all(bytes).await;
    read_to_close(&mut stream).await
}

/// Reads until the peer closes (or resets); panics after `WAIT`.
pub async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read_all)
        .await
        .expect("the gateway closed the connection in time");
    String::from_utf8_lossy(&out).into_owned()
}

/// The status codes of the HTTP/1.1 responses in `reply`, in order.
pub fn statuses(reply: &str) -> Vec<u16> {
    reply
        .match_indices("HTTP/1.1 ")
        .filter(|(i, _)| *i == 0 || reply[..*i].ends_with('\n') || reply[..*i].ends_with('}'))
        .filter_map(|(i, _)| reply.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// Asserts the gateway still serves a normal request end to end (no panic,
/// no hang, no poisoned state), and that it reached the upstream as itself.
pub async fn assert_healthy(gw: &Gateway, up: &Upstream) {
    let probes = |up: &Upstream| {
        up.seen()
            .iter()
            .filter(|s| s.uri == "/health-probe")
            .count()
    };
    let before = probes(up);
    let r = get(gw.addr("web"), "/health-probe").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Counted by path: an aborted request of the attack may still be being
    // recorded by the upstream's own connection task.
    assert_eq!(probes(up), before + 1);
}

/// The paths the upstream received, in order.
pub fn seen_paths(up: &Upstream) -> Vec<String> {
    up.seen().into_iter().map(|s| s.uri).collect()
}
