//! Hot reload: under load, invalid configs, listener changes, file watching.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Gateway, WAIT, get};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::block_in_place;

/// A gateway with one listener (plus `extra` listeners) answering `body`.
fn direct(body: &str, extra: &[&str]) -> String {
    let mut yaml = String::from("admin: {address: 127.0.0.1:0}\nlisteners:\n");
    for name in std::iter::once(&"web").chain(extra) {
        yaml.push_str(&format!("  - name: {name}\n    address: 127.0.0.1:0\n"));
    }
    yaml.push_str(&format!(
        "routes:\n  - name: all\n    match:\n      path: {{prefix: /}}\n    direct_response:\n      status: 200\n      body: \"{body}\"\n"
    ));
    yaml
}

/// What one load task saw.
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    failed: Vec<String>,
    a: usize,
    b: usize,
}

/// Sends requests on keep-alive connections until `stop` (or a deadline);
/// a failure is recorded and the task reconnects.
async fn load_task(addr: SocketAddr, stop: Arc<AtomicBool>, total: Arc<AtomicUsize>) -> Tally {
    let mut tally = Tally::default();
    let deadline = Instant::now() + Duration::from_secs(45);
    'connect: while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let req = Request::get("/load")
                .header("host", "example.com")
                .body(Empty::new())
                .unwrap();
            let outcome = match tokio::time::timeout(WAIT, sender.send_request(req)).await {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    match resp.into_body().collect().await {
                        Ok(body) => Ok((status, body.to_bytes())),
                        Err(e) => Err(format!("body: {e}")),
                    }
                }
                Ok(Err(e)) => Err(format!("request: {e}")),
                Err(_) => Err("timeout".to_string()),
            };
            total.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok((status, body)) if status == 200 && (&body[..] == b"A" || &body[..] == b"B") => {
                    tally.ok += 1;
                    if &body[..] == b"A" {
                        tally.a += 1;
                    } else {
                        tally.b += 1;
                    }
                }
                Ok((status, body)) => tally.failed.push(format!("{status} {body:?}")),
                Err(e) => {
                    tally.failed.push(e);
                    continue 'connect;
                }
            }
        }
        break;
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_load_drops_nothing() {
    const TASKS: usize = 8;
    const MIN_REQUESTS: usize = 2_000;
    const RELOADS: usize = 20;
    let mut gw = Gateway::start(&direct("A", &[]));
    let addr = gw.addr("web");
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(load_task(addr, Arc::clone(&stop), Arc::clone(&total))))
        .collect();

    // Spread the reloads over the load: each waits for some progress first.
    let started = Instant::now();
    for i in 0..RELOADS {
        let target = (i + 1) * MIN_REQUESTS / (RELOADS + 1);
        let deadline = Instant::now() + WAIT;
        while total.load(Ordering::Relaxed) < target {
            assert!(
                Instant::now() < deadline,
                "load stalled at {}",
                total.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let body = if i % 2 == 0 { "B" } else { "A" };
        let outcome = block_in_place(|| gw.reload(&direct(body, &[])));
        assert!(outcome.contains("config reloaded"), "reload {i}: {outcome}");
    }
    let deadline = Instant::now() + WAIT;
    while total.load(Ordering::Relaxed) < MIN_REQUESTS {
        assert!(
            Instant::now() < deadline,
            "load stalled at {}",
            total.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut sum = Tally::default();
    for task in tasks {
        let t = task.await.expect("load task");
        sum.ok += t.ok;
        sum.a += t.a;
        sum.b += t.b;
        sum.failed.extend(t.failed);
    }
    eprintln!(
        "{} requests ({} A, {} B) across {RELOADS} reloads in {:?}",
        sum.ok,
        sum.a,
        sum.b,
        started.elapsed()
    );
    assert!(
        sum.failed.is_empty(),
        "{} failed: {:?}",
        sum.failed.len(),
        &sum.failed[..sum.failed.len().min(10)]
    );
    assert!(sum.ok >= MIN_REQUESTS, "only {} requests", sum.ok);
    assert!(
        sum.a > 0 && sum.b > 0,
        "both configs must have answered: {sum:?}"
    );
    // Twenty alternations end on the first config.
    assert_eq!(get(addr, "/after").await.body, "A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_reload_keeps_the_running_config() {
    let mut gw = Gateway::start(&direct("old", &[]));
    let addr = gw.addr("web");
    assert_eq!(get(addr, "/").await.body, "old");

    let bad = "admin: {address: 127.0.0.1:0}\n\
               listeners:\n  - name: web\n    address: 127.0.0.1:0\n\
               routes:\n  - name: broken\n    match:\n      path: {prefix: /}\n    backend: missing\n";
    let backend_line = bad
        .lines()
        .position(|l| l.contains("backend: missing"))
        .unwrap()
        + 1;
    let outcome = block_in_place(|| gw.reload(bad));
    assert!(outcome.contains("config reload rejected"), "{outcome}");

    let logs = gw.logs();
    let error = logs
        .iter()
        .find(|l| l.contains("ERROR") && l.contains("routes[0].backend"))
        .unwrap_or_else(|| panic!("no error naming the field; logs:\n{}", logs.join("\n")));
    assert!(
        error.contains(&format!("gateway.yaml:{backend_line}")),
        "file and line: {error}"
    );
    assert!(error.contains("missing"), "the unknown name: {error}");

    let reply = get(addr, "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "old"));
}

async fn refuses_connections(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_listeners() {
    let mut gw = Gateway::start(&direct("x", &[]));
    let web = gw.addr("web");
    assert!(!gw.listeners.contains_key("extra"));

    let outcome = block_in_place(|| gw.reload(&direct("x", &["extra"])));
    assert!(outcome.contains("config reloaded"), "{outcome}");
    let extra = gw.addr("extra");
    assert_ne!(extra, web);
    assert_eq!(get(extra, "/").await.status, 200);
    // The kept listener was not rebound.
    assert_eq!(gw.addr("web"), web);

    let outcome = block_in_place(|| gw.reload(&direct("y", &[])));
    assert!(outcome.contains("config reloaded"), "{outcome}");
    assert!(
        gw.logs()
            .iter()
            .any(|l| l.contains("listener removed") && l.contains("extra"))
    );
    assert!(
        refuses_connections(extra).await,
        "removed listener {extra} still accepts"
    );
    let reply = get(web, "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "y"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_change_reloads_without_a_signal() {
    let mut gw = Gateway::start(&direct("before", &[]));
    let addr = gw.addr("web");
    assert_eq!(get(addr, "/").await.body, "before");

    // The way a ConfigMap update or an editor's save lands: write, rename.
    let tmp = gw.dir.path().join("next.yaml");
    std::fs::write(&tmp, direct("after", &[])).expect("write");
    std::fs::rename(&tmp, &gw.config_path).expect("rename");
    let line = block_in_place(|| gw.wait_log("config reloaded"));
    assert!(line.contains("file_changed"), "{line}");
    assert_eq!(get(addr, "/").await.body, "after");
}
