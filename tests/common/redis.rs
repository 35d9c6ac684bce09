//! A real `redis-server` started by the test on a free loopback port (no
//! persistence), polled with `PING` until ready, killed by PID on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::WAIT;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    extra: Vec<String>,
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

impl RedisServer {
    /// Starts a server; `extra` are additional `redis-server` arguments
    /// (e.g. `--requirepass x`).
    pub fn start(extra: &[&str]) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/deps/redis.apt)");
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A client connection as the default user (with `password` if set).
    pub fn connection(&self, password: Option<&str>) -> redis::Connection {
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/0", self.port),
            None => self.url(),
        };
        let client = redis::Client::open(url).expect("client");
        client
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect to redis")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + WAIT;
        let addr = format!("127.0.0.1:{}", self.port);
        loop {
            // PING over a raw socket: works with or without a password
            // (an auth error is an answer too).
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok() && matches!(s.read(&mut buf), Ok(n) if n > 0) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server never answered PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (an outage); `restart` brings it back on the same
    /// port, empty.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A key secret file shared by the gateways of one test.
pub fn secret_file(dir: &std::path::Path) -> String {
    let path = dir.join("redis-key-secret");
    std::fs::write(&path, "test-secret-0123456789abcdef\n").expect("write secret");
    path.display().to_string()
}
