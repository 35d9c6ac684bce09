//! A real kube-apiserver for the Kubernetes tests (shared/k8s), a network
//! namespace for upstreams the API server accepts in EndpointSlices, and a
//! gateway started with `--provider kubernetes`. Each is stopped by what
//! it started (PIDs, state folder, namespace name) when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where the API server assets are: `PORTCULLIS_K8S_ASSETS`, else
/// `../shared/k8s` beside the repository (as CI lays it out).
pub fn assets() -> Option<PathBuf> {
    let dir = match std::env::var_os("PORTCULLIS_K8S_ASSETS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s"),
    };
    dir.join("start-apiserver.sh").exists().then_some(dir)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct ApiServer {
    assets: PathBuf,
    pub state: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl ApiServer {
    /// Starts a fresh API server with its own state folder and ports.
    pub fn start(assets: PathBuf) -> ApiServer {
        let state = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(assets.join("start-apiserver.sh"))
            .env("K8S_STATE_DIR", state.path().join("k8s"))
            .env("APISERVER_PORT", free_port().to_string())
            .env("ETCD_CLIENT_PORT", free_port().to_string())
            .env("ETCD_PEER_PORT", free_port().to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("run start-apiserver.sh");
        assert!(out.status.success(), "start-apiserver.sh failed");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let kubeconfig = PathBuf::from(stdout.lines().last().expect("kubeconfig path").trim());
        ApiServer {
            assets,
            state,
            kubeconfig,
        }
    }

    /// A kubeconfig whose current context is `context`.
    pub fn kubeconfig_for(&self, context: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("current-context:") {
                out.push_str(&format!("current-context: {context}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        let path = self.state.path().join(format!("kubeconfig-{context}"));
        std::fs::write(&path, out).unwrap();
        path
    }

    pub async fn client(&self, kubeconfig: &Path) -> kube::Client {
        let raw = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(raw, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(self.assets.join("stop-apiserver.sh"))
            .env("K8S_STATE_DIR", self.state.path().join("k8s"))
            .status();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A network namespace joined to the host by a veth pair on a /30 of
/// 192.0.2.0/24 (TEST-NET-1), chosen by PID to keep parallel runs apart.
pub struct NetNs {
    pub name: String,
    host_link: String,
    pub host_ip: String,
    pub ns_ip: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

impl NetNs {
    pub fn create() -> NetNs {
        let id = std::process::id() % 60;
        let base = 4 * id + 4;
        let name = format!("pcns{}", std::process::id());
        let host_link = format!("pch{}", std::process::id() % 1_000_000);
        let peer = format!("pcn{}", std::process::id() % 1_000_000);
        let (host_ip, ns_ip) = (
            format!("192.0.2.{}", base + 1),
            format!("192.0.2.{}", base + 2),
        );
        ip(&["netns", "add", &name]);
        let ns = NetNs {
            name,
            host_link,
            host_ip,
            ns_ip,
        };
        ip(&[
            "link",
            "add",
            &ns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &ns.host_link,
        ]);
        ip(&["link", "set", &ns.host_link, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns.name,
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &peer,
        ]);
        ip(&["netns", "exec", &ns.name, "ip", "link", "set", &peer, "up"]);
        ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A portcullis process and its stderr lines.
pub struct Process {
    child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Process {
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {needle:?} within {within:?}; lines:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The address in the `listener bound` line of listener `name`.
    pub fn listener(&mut self, name: &str, within: Duration) -> SocketAddr {
        loop {
            let line = self.wait_line("listener bound", within);
            if line.contains(&format!("listener={name}")) {
                let addr = line
                    .split("address=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                return addr.parse().unwrap();
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
