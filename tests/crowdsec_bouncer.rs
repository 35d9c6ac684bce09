//! The CrowdSec bouncer against the real Debian `crowdsec` Local API,
//! started here with its own config directory (scripts/deps/crowdsec.sh
//! installs it): ban decisions on an IP and a range are enforced, a
//! deletion lifts them, a bad API key (403) and a stopped LAPI are logged
//! and keep the decisions already held.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;

struct Lapi {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Lapi {
    fn start() -> Lapi {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["data", "hub", "log", "notifications"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for file in ["profiles.yaml", "simulation.yaml"] {
            std::fs::copy(Path::new("/etc/crowdsec").join(file), d.join(file))
                .expect("crowdsec config (scripts/deps/crowdsec.sh)");
        }
        std::fs::write(d.join("hub/.index.json"), "{}").unwrap();
        std::fs::write(d.join("local_api_credentials.yaml"), "").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = d.display();
        let config = format!(
            "common: {{ daemonize: false, log_media: file, log_level: info, log_dir: {p}/log, working_dir: . }}
config_paths:
  config_dir: {p}/
  data_dir: {p}/data/
  simulation_path: {p}/simulation.yaml
  hub_dir: {p}/hub/
  index_path: {p}/hub/.index.json
  notification_dir: {p}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
db_config: {{ type: sqlite, db_path: {p}/data/crowdsec.db, use_wal: false }}
api:
  client: {{ credentials_path: {p}/local_api_credentials.yaml }}
  server: {{ listen_uri: '127.0.0.1:{port}', profiles_path: {p}/profiles.yaml, trusted_ips: [127.0.0.1] }}
prometheus: {{ enabled: false }}
"
        );
        std::fs::write(d.join("config.yaml"), config).unwrap();
        let mut lapi = Lapi {
            child: None,
            dir,
            port,
        };
        lapi.spawn();
        lapi.cscli(&[
            "machines",
            "add",
            "tester",
            "--auto",
            "--force",
            "-f",
            &lapi
                .path("local_api_credentials.yaml")
                .display()
                .to_string(),
        ]);
        let creds = lapi.path("local_api_credentials.yaml");
        let text = std::fs::read_to_string(&creds).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("url:") {
                    format!("url: http://127.0.0.1:{port}/\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&creds, text).unwrap();
        lapi
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(&mut self) {
        let child = Command::new("crowdsec")
            .arg("-c")
            .arg(self.path("config.yaml"))
            .arg("-no-cs")
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("crowdsec (scripts/deps/crowdsec.sh)");
        self.child = Some(child);
        // Ready when it answers (403 without a key).
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the LAPI never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn cscli(&self, args: &[&str]) -> String {
        let out = Command::new("cscli")
            .arg("-c")
            .arg(self.path("config.yaml"))
            .args(args)
            .output()
            .expect("cscli");
        assert!(
            out.status.success(),
            "cscli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Lapi {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(lapi: &Lapi, key_file: &Path) -> String {
    format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
feeds:
  - name: crowdsec
    crowdsec: {{ lapi_url: "http://127.0.0.1:{}/", api_key_file: "{}" }}
    refresh: 1s
listeners:
  - name: web
    address: 127.0.0.1:0
    policies: [crowdsec-bans]
policies:
  - name: crowdsec-bans
    threat_feed: {{ feeds: [crowdsec] }}
routes:
  - name: all
    match: {{ path: {{ prefix: / }} }}
    direct_response: {{ body: ok }}
"#,
        lapi.port,
        key_file.display()
    )
}

async fn status_from(source: &str, web: SocketAddr) -> u16 {
    let req = Request::get("/")
        .header("host", "example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send_from(source, web, req).await.status
}

async fn until(source: &str, web: SocketAddr, status: u16) {
    let deadline = Instant::now() + WAIT;
    while status_from(source, web).await != status {
        assert!(Instant::now() < deadline, "{source} never got {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn crowdsec_decisions_are_enforced_and_outages_keep_them() {
    let mut lapi = Lapi::start();
    let key = lapi.cscli(&["bouncers", "add", "portcullis-test", "-o", "raw"]);
    let key_file = lapi.path("bouncer.key");
    std::fs::write(&key_file, key.trim()).unwrap();
    lapi.cscli(&[
        "decisions",
        "add",
        "--ip",
        "127.0.0.2",
        "--duration",
        "1h",
        "--reason",
        "test",
    ]);
    lapi.cscli(&[
        "decisions",
        "add",
        "--range",
        "127.0.1.0/24",
        "--duration",
        "1h",
        "--reason",
        "test",
    ]);

    let mut gw = Gateway::start(&config(&lapi, &key_file));
    let web = gw.addr("web");
    until("127.0.0.2", web, 403).await;
    assert_eq!(status_from("127.0.1.77", web).await, 403);
    assert_eq!(status_from("127.0.0.1", web).await, 200);

    // A delta: a new ban, then a deletion.
    lapi.cscli(&[
        "decisions",
        "add",
        "--ip",
        "127.0.0.3",
        "--duration",
        "1h",
        "--reason",
        "later",
    ]);
    until("127.0.0.3", web, 403).await;
    lapi.cscli(&["decisions", "delete", "--ip", "127.0.0.2"]);
    until("127.0.0.2", web, 200).await;

    // The LAPI down: logged, the decisions held stay enforced.
    lapi.stop();
    gw.wait_log("CrowdSec LAPI");
    assert_eq!(status_from("127.0.0.3", web).await, 403);
    drop(gw);

    // A bad key: 403 logged clearly, nothing enforced, nothing crashes.
    lapi.spawn();
    let bad = lapi.path("bad.key");
    std::fs::write(&bad, "not-a-key").unwrap();
    let mut gw = Gateway::start(&config(&lapi, &bad));
    let line = gw.wait_log("refused the bouncer API key");
    assert!(line.contains("403"), "{line}");
    assert_eq!(status_from("127.0.0.3", gw.addr("web")).await, 200);
    assert!(gw.logs().iter().all(|l| !l.contains("not-a-key")));
}
