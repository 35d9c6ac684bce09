//! Kubernetes provider at scale, against a real kube-apiserver: N Ingresses
//! (default 5,000), each with its Service and an EndpointSlice of E
//! endpoints (default 4: 20,000 in all), plus one probe Ingress whose
//! upstream runs in a network namespace. Prints the time from process start
//! to the first ready config, the time from an EndpointSlice change to
//! traffic (median of several), and the gateway's RSS and CPU time.
//!
//!   cargo build --release && cargo bench --bench k8s_scale
//!   INGRESSES=1000 ENDPOINTS=4 PORTCULLIS_BIN=target/release/portcullis cargo bench --bench k8s_scale
//!
//! Needs root (network namespace) and shared/k8s (PORTCULLIS_K8S_ASSETS).

#[path = "../tests/k8s/mod.rs"]
mod k8s;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("object")
}

fn service(name: &str) -> Service {
    object(
        json!({"metadata": {"name": name, "namespace": "scale"}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
    )
}

fn slice(name: &str, addresses: Vec<String>, port: i32) -> EndpointSlice {
    let endpoints: Vec<_> = addresses
        .into_iter()
        .map(|a| json!({"addresses": [a], "conditions": {"ready": true}}))
        .collect();
    object(json!({
        "metadata": {"name": name, "namespace": "scale", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": port}], "endpoints": endpoints,
    }))
}

fn ingress(name: &str, host: &str) -> Ingress {
    object(json!({
        "metadata": {"name": name, "namespace": "scale"},
        "spec": {"ingressClassName": "portcullis", "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"name": "http"}}}}]}}]},
    }))
}

async fn get(addr: std::net::SocketAddr, host: &str) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get("/")
        .header("host", host)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .ok()?;
    let resp = tokio::time::timeout(Duration::from_secs(2), sender.send_request(req))
        .await
        .ok()?
        .ok()?;
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .ok()?
        .to_bytes();
    Some(String::from_utf8_lossy(&body).trim().to_owned())
}

async fn until(addr: std::net::SocketAddr, host: &str, body: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if get(addr, host).await.as_deref() == Some(body) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{host} never answered {body:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// (RSS KiB, user+system CPU seconds) of `pid`, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    (rss, ticks / 100.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (n, per) = (env("INGRESSES", 5000), env("ENDPOINTS", 4));
    let bin =
        std::env::var("PORTCULLIS_BIN").unwrap_or_else(|_| "target/release/portcullis".into());
    let Some(assets) = k8s::assets() else {
        eprintln!("skipped: no kube-apiserver assets (PORTCULLIS_K8S_ASSETS)");
        return;
    };
    let server = k8s::ApiServer::start(assets);
    let client = server.client(&server.kubeconfig).await;
    let pp = PostParams::default();
    Api::<Namespace>::all(client.clone())
        .create(&pp, &object(json!({"metadata": {"name": "scale"}})))
        .await
        .expect("namespace");
    Api::<IngressClass>::all(client.clone())
        .create(&pp, &object(json!({"metadata": {"name": "portcullis"}, "spec": {"controller": "portcullis.dev/ingress-controller"}})))
        .await
        .expect("class");
    let (services, slices, ingresses): (Api<Service>, Api<EndpointSlice>, Api<Ingress>) = (
        Api::namespaced(client.clone(), "scale"),
        Api::namespaced(client.clone(), "scale"),
        Api::namespaced(client.clone(), "scale"),
    );

    let created = Instant::now();
    futures_util::stream::iter(0..n)
        .map(|i| {
            let (services, slices, ingresses, pp) = (
                services.clone(),
                slices.clone(),
                ingresses.clone(),
                pp.clone(),
            );
            async move {
                let name = format!("app-{i}");
                let addresses = (0..per)
                    .map(|e| format!("10.{}.{}.{}", (i / 250) % 250, i % 250, e + 1))
                    .collect();
                services
                    .create(&pp, &service(&name))
                    .await
                    .expect("service");
                slices
                    .create(&pp, &slice(&name, addresses, 8080))
                    .await
                    .expect("slice");
                ingresses
                    .create(&pp, &ingress(&name, &format!("app-{i}.scale.test")))
                    .await
                    .expect("ingress");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    eprintln!(
        "created {n} Ingresses, Services and EndpointSlices ({} endpoints) in {:?}",
        n * per,
        created.elapsed()
    );

    // The probe: a Service whose endpoint is a real upstream in a netns.
    let netns = k8s::NetNs::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = format!(
        "admin: {{address: 127.0.0.1:0}}\nserver: {{access_log: false}}\nlisteners:\n  - {{name: a, address: \"{ip}:8080\"}}\n  - {{name: b, address: \"{ip}:8081\"}}\nroutes:\n  - {{name: a, listeners: [a], direct_response: {{status: 200, body: a}}}}\n  - {{name: b, listeners: [b], direct_response: {{status: 200, body: b}}}}\n",
        ip = netns.ns_ip
    );
    std::fs::write(dir.path().join("upstream.yaml"), upstream).expect("write");
    let mut up = Command::new("ip");
    up.args(["netns", "exec", &netns.name, &bin, "run", "--config"])
        .arg(dir.path().join("upstream.yaml"));
    let mut up = k8s::Process::spawn(up);
    up.wait_line("gateway started", Duration::from_secs(30));
    services
        .create(&pp, &service("probe"))
        .await
        .expect("probe service");
    slices
        .create(&pp, &slice("probe", vec![netns.ns_ip.clone()], 8080))
        .await
        .expect("probe slice");
    ingresses
        .create(&pp, &ingress("probe", "probe.scale.test"))
        .await
        .expect("probe ingress");

    std::fs::write(
        dir.path().join("base.yaml"),
        "admin: {address: 127.0.0.1:0}\nserver: {access_log: false}\n",
    )
    .expect("write");
    let mut gw = Command::new(&bin);
    gw.args([
        "run",
        "--provider",
        "kubernetes",
        "--http-address",
        "127.0.0.1:0",
        "--config",
    ])
    .arg(dir.path().join("base.yaml"))
    .env("KUBECONFIG", &server.kubeconfig);
    let started = Instant::now();
    let mut gateway = k8s::Process::spawn(gw);
    let http = gateway.listener("http", Duration::from_secs(300));
    until(http, "probe.scale.test", "a", Duration::from_secs(300)).await;
    let first_ready = started.elapsed();
    let pid = gateway.pid();
    let (rss_ready, cpu_ready) = usage(pid);

    let mut changes = Vec::new();
    for round in 0..5 {
        let (port, body) = if round % 2 == 0 {
            (8081, "b")
        } else {
            (8080, "a")
        };
        let patch = json!({"ports": [{"name": "http", "port": port}]});
        let changed = Instant::now();
        slices
            .patch("probe", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch");
        until(http, "probe.scale.test", body, Duration::from_secs(60)).await;
        changes.push(changed.elapsed());
    }
    changes.sort();
    let (rss, cpu) = usage(pid);
    println!("k8s_scale: {n} Ingresses, {} endpoints", n * per);
    println!("  first ready config (process start to first proxied request): {first_ready:?}");
    println!(
        "  EndpointSlice change to traffic: median {:?}, max {:?} (5 changes)",
        changes[2], changes[4]
    );
    println!(
        "  gateway RSS: {} MiB at first ready, {} MiB after the changes",
        rss_ready / 1024,
        rss / 1024
    );
    println!(
        "  gateway CPU: {cpu_ready:.2} s to first ready, {:.2} s per EndpointSlice change",
        (cpu - cpu_ready) / 5.0
    );
    drop(gateway);
    drop(up);
    drop(netns);
    drop(server);
}
