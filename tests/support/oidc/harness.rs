//! Test side of the OpenID Provider: starts `provider.mjs` (npm
//! `oidc-provider`) on a loopback port, waits for READY with a deadline,
//! records its EVENT lines, and a tiny cookie-keeping browser that follows
//! redirects across the gateway and the provider.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::common::{self, Reply};

/// A port the OS just handed out (the provider and the gateway must know
/// each other's URLs before either starts).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn support_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc")
}

/// Why the provider cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed (scripts/deps/oidc.apt)".into());
    }
    if !support_dir().join("node_modules/oidc-provider").is_dir() {
        return Some("oidc-provider is not installed (run scripts/deps/oidc.sh)".into());
    }
    None
}

/// Prints why a test is skipped and returns true when it must be.
pub fn skip(test: &str) -> bool {
    match unavailable() {
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

pub struct OidcProvider {
    child: Child,
    pub port: u16,
    pub issuer: String,
    events: Arc<Mutex<Vec<String>>>,
}

impl OidcProvider {
    /// Starts the provider; `envs` tunes it (ACCESS_TOKEN_TTL, REFRESH_DELAY_MS).
    pub fn start(port: u16, redirect_uri: &str, post_logout: &str, envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new("node");
        cmd.current_dir(support_dir())
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(redirect_uri)
            .arg(post_logout)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn node provider.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY") {
                    let _ = tx.send(line.clone());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let ready = rx
            .recv_timeout(common::WAIT)
            .expect("the OpenID Provider did not print READY in time");
        let issuer = ready.trim_start_matches("READY ").trim().to_owned();
        OidcProvider {
            child,
            port,
            issuer,
            events,
        }
    }

    /// How many EVENT lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("EVENT") && l.contains(needle))
            .count()
    }

    /// Waits (with a deadline) until `count(needle) >= n`.
    pub fn wait_count(&self, needle: &str, n: usize) -> usize {
        let deadline = Instant::now() + common::WAIT;
        loop {
            let c = self.count(needle);
            if c >= n || Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client_credentials access token (opaque) for `client`.
    pub async fn client_token(&self, client: &str, secret: &str) -> String {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"));
        let req = Request::post("/token")
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(
                "grant_type=client_credentials&scope=api",
            )))
            .unwrap();
        let reply = common::send(self.addr(), req).await;
        assert_eq!(reply.status, 200, "token: {}", reply.body);
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits `http://host:port/path?q` into the address and the target.
pub fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    (authority.parse().expect("host:port"), target.to_owned())
}

/// A browser: one cookie jar per host:port, `Accept: text/html`.
#[derive(Default)]
pub struct Browser {
    pub jars: HashMap<SocketAddr, HashMap<String, String>>,
}

impl Browser {
    pub fn cookie(&self, addr: SocketAddr, name: &str) -> Option<String> {
        self.jars.get(&addr)?.get(name).cloned()
    }

    pub fn set_cookie(&mut self, addr: SocketAddr, name: &str, value: &str) {
        self.jars
            .entry(addr)
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    /// One request; remembers the Set-Cookie answers.
    pub async fn request(
        &mut self,
        addr: SocketAddr,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::get(target).header("host", addr.to_string());
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
        {
            builder = builder.header("accept", "text/html,application/xhtml+xml");
        }
        if let Some(jar) = self.jars.get(&addr)
            && !jar.is_empty()
        {
            let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header("cookie", cookie.join("; "));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let reply = common::send(addr, builder.body(Full::new(Bytes::new())).unwrap()).await;
        for value in reply.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, val)) = pair.split_once('=') else {
                continue;
            };
            let jar = self.jars.entry(addr).or_default();
            if val.is_empty() || text.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), val.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, url: &str) -> Reply {
        let (addr, target) = split_url(url);
        self.request(addr, &target, &[]).await
    }

    /// Follows redirects from `url` until a non-redirect answer or until
    /// `stop(url)` says so; returns the last URL and answer.
    pub async fn follow(&mut self, url: &str, stop: impl Fn(&str) -> bool) -> (String, Reply) {
        let mut url = url.to_owned();
        for _ in 0..20 {
            let reply = self.get(&url).await;
            if !(300..400).contains(&reply.status) {
                return (url, reply);
            }
            let location = reply.headers["location"].to_str().unwrap().to_owned();
            let next = if location.starts_with("http") {
                location
            } else {
                let (addr, _) = split_url(&url);
                format!("http://{addr}{location}")
            };
            if stop(&next) {
                return (next, reply);
            }
            url = next;
        }
        panic!("too many redirects from {url}");
    }
}
