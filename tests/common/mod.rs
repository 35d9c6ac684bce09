//! Test harness: starts the real `portcullis` binary on OS-chosen loopback
//! ports, real upstream servers, and clients that speak raw bytes or HTTP.
#![allow(dead_code)]

pub mod attack;
pub mod idp;
pub mod prom;
pub mod redis;
pub mod schema;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

pub const WAIT: Duration = Duration::from_secs(20);

/// A running gateway process.
pub struct Gateway {
    child: Child,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub listeners: HashMap<String, SocketAddr>,
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    log_rx: mpsc::Receiver<String>,
    access: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Writes `yaml` to a temp file and starts the gateway on it; returns
    /// once every listener is bound and the gateway says it started.
    pub fn start(yaml: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("gateway.yaml");
        std::fs::write(&config_path, yaml).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portcullis");
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, log_rx) = mpsc::channel();
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        let access = Arc::new(Mutex::new(Vec::new()));
        {
            let access = Arc::clone(&access);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    access.lock().unwrap().push(line);
                }
            });
        }
        let mut gw = Gateway {
            child,
            dir,
            config_path,
            listeners: HashMap::new(),
            admin: "0.0.0.0:0".parse().unwrap(),
            logs,
            log_rx,
            access,
        };
        gw.wait_started();
        gw
    }

    fn wait_started(&mut self) {
        // Compiling a config can take seconds on a loaded debug build (the
        // WAF parses the whole CRS); requests keep the shorter WAIT.
        let deadline = Instant::now() + 3 * WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.log_rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => panic!("gateway did not start; logs:\n{}", self.logs().join("\n")),
            };
            self.note_line(&line);
            if line.contains("gateway started") {
                return;
            }
        }
    }

    fn note_line(&mut self, line: &str) {
        if line.contains("listener bound") {
            let name = field(line, "listener").expect("listener name");
            let addr = field(line, "address").expect("listener address");
            self.listeners
                .insert(name, addr.parse().expect("listener addr"));
        } else if line.contains("admin listening") {
            self.admin = field(line, "address")
                .expect("admin addr")
                .parse()
                .expect("admin addr");
        }
    }

    /// The bound address of listener `name`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        *self
            .listeners
            .get(name)
            .unwrap_or_else(|| panic!("no listener {name}"))
    }

    /// Waits for a log line containing `needle` (lines seen since the last
    /// wait); returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log_rx.recv_timeout(left) {
                Ok(line) => {
                    self.note_line(&line);
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?}; logs:\n{}",
                    self.logs().join("\n")
                ),
            }
        }
    }

    /// A log line containing `needle`, whether it came before this call
    /// (for example while the gateway was starting) or arrives later.
    pub fn find_or_wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.logs().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        self.wait_log(needle)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Access-log lines written so far.
    pub fn access_log(&self) -> Vec<String> {
        self.access.lock().unwrap().clone()
    }

    /// Waits until at least `n` access-log lines were written.
    pub fn wait_access_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = self.access_log();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "only {} access lines",
                lines.len()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill");
    }

    /// Rewrites the config file and sends SIGHUP; waits for the outcome
    /// line (`config reloaded` or `config reload rejected`) and returns it.
    pub fn reload(&mut self, yaml: &str) -> String {
        let tmp = self.dir.path().join("gateway.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("write config");
        std::fs::rename(&tmp, &self.config_path).expect("swap config");
        self.signal(Signal::SIGHUP);
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log_rx.recv_timeout(left) {
                Ok(line) => {
                    self.note_line(&line);
                    if line.contains("config reloaded") || line.contains("config reload rejected") {
                        return line;
                    }
                }
                Err(_) => panic!("no reload outcome; logs:\n{}", self.logs().join("\n")),
            }
        }
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident memory now and at its peak, in KiB, from /proc.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let get = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (get("VmRSS:"), get("VmHWM:"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `key=value` from a tracing text line.
pub fn field(line: &str, key: &str) -> Option<String> {
    let pat = format!("{key}=");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    let value = rest.split_whitespace().next()?;
    Some(value.trim_matches('"').to_string())
}

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body_len: usize,
    /// The request body ended in an error (aborted, malformed framing).
    pub body_error: bool,
}

/// A real HTTP/1.1 upstream on 127.0.0.1:0 that records what it receives and
/// answers with its name in `x-upstream` and a JSON summary of the request.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    pub async fn start(name: &str) -> Upstream {
        Self::start_with(name, |_req| None).await
    }

    /// `respond` may return a custom response for a request (by URI etc.).
    pub async fn start_with<F>(name: &str, respond: F) -> Upstream
    where
        F: Fn(&Seen) -> Option<Response<Full<Bytes>>> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let up = Upstream {
            addr,
            name: name.to_string(),
            seen: Arc::clone(&seen),
        };
        let respond = Arc::new(respond);
        let name = name.to_string();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let seen = Arc::clone(&seen);
                let respond = Arc::clone(&respond);
                let name = name.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let seen = Arc::clone(&seen);
                        let respond = Arc::clone(&respond);
                        let name = name.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            // Count the body as it streams; never buffer it.
                            let mut body = body;
                            let mut body_len = 0usize;
                            let mut body_error = false;
                            while let Some(frame) = body.frame().await {
                                match frame {
                                    Ok(f) => body_len += f.data_ref().map(|d| d.len()).unwrap_or(0),
                                    Err(_) => {
                                        body_error = true;
                                        break;
                                    }
                                }
                            }
                            let s = Seen {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                version: parts.version,
                                headers: parts.headers.clone(),
                                body_len,
                                body_error,
                            };
                            seen.lock().unwrap().push(s.clone());
                            if let Some(r) = respond(&s) {
                                return Ok::<_, Infallible>(r);
                            }
                            let summary = serde_json::json!({
                                "upstream": name, "method": s.method, "uri": s.uri, "body_len": body_len,
                            });
                            let mut resp =
                                Response::new(Full::new(Bytes::from(summary.to_string())));
                            resp.headers_mut()
                                .insert("x-upstream", name.parse().unwrap());
                            Ok(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        up
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A simple response from a client request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// One HTTP/1.1 request over a fresh connection with hyper's client.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(
        addr,
        Request::get(path)
            .header("host", "example.com")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await
}

pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    send_on(stream, req).await
}

/// Sends from a chosen loopback source address (e.g. 127.0.0.2).
pub async fn send_from(source: &str, addr: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    let stream = connect_from(source, addr).await;
    send_on(stream, req).await
}

pub async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let src: SocketAddr = format!("{source}:0")
        .parse()
        .unwrap_or_else(|_| format!("[{source}]:0").parse().unwrap());
    let socket = if src.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .unwrap();
    socket.bind(src).expect("bind source");
    socket.connect(addr).await.expect("connect")
}

pub async fn send_on(stream: TcpStream, req: Request<Full<Bytes>>) -> Reply {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("timeout")
        .expect("request");
    collect(resp).await
}

pub async fn collect(resp: Response<Incoming>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// An HTTP/2 (h2c, prior knowledge) client connection.
pub async fn h2_client(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

/// Writes raw bytes and reads until the peer closes or `WAIT` passes.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}
