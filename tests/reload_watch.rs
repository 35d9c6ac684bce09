//! The config file watch reacts to the config file and the files it
//! references, not to anything else written in their directories, and a
//! rejected edit is tried (and logged) once per distinct content.

mod common;

use std::io::Write;

use common::{Gateway, get, prom};
use tokio::task::block_in_place;

fn direct(body: &str) -> String {
    format!(
        "admin: {{address: 127.0.0.1:0}}\nlisteners:\n  - name: web\n    address: 127.0.0.1:0\n\
         routes:\n  - name: all\n    direct_response: {{ status: 200, body: \"{body}\" }}\n"
    )
}

/// Writes that land in the config directory the way an access log, an
/// editor's swap and backup files and a touch without change do.
fn noise(gw: &Gateway, rounds: usize) {
    let dir = gw.dir.path();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("access.log"))
        .unwrap();
    for i in 0..rounds {
        writeln!(log, "{{\"n\":{i}}}").unwrap();
        log.flush().unwrap();
        std::fs::write(dir.join(".gateway.yaml.swp"), format!("swap {i}")).unwrap();
        std::fs::write(dir.join("gateway.yaml~"), format!("backup {i}")).unwrap();
    }
    // Same content again: a touch, not a change.
    let same = std::fs::read(&gw.config_path).unwrap();
    std::fs::write(&gw.config_path, same).unwrap();
}

/// Replaces the config file the way editors and ConfigMaps do.
fn replace(gw: &Gateway, yaml: &str) {
    let tmp = gw.dir.path().join("next.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, &gw.config_path).unwrap();
}

async fn reloads(gw: &Gateway, result: &str) -> f64 {
    let body = get(gw.admin, "/metrics").await.body;
    let metrics = prom::parse(&body).unwrap();
    metrics.value("portcullis_config_reloads_total", &[("result", result)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_beside_the_config_trigger_nothing() {
    let mut gw = Gateway::start(&direct("a"));
    block_in_place(|| noise(&gw, 50));
    // A real change after the noise: once it is live, every earlier event
    // has been judged.
    replace(&gw, &direct("b"));
    block_in_place(|| gw.wait_log("config reloaded"));
    assert_eq!(get(gw.addr("web"), "/").await.body, "b");
    assert_eq!(reloads(&gw, "reloaded").await, 1.0);
    assert_eq!(
        reloads(&gw, "unchanged").await,
        0.0,
        "spurious reload attempts"
    );
    assert_eq!(reloads(&gw, "rejected").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_edit_is_rejected_once_while_the_directory_keeps_changing() {
    let mut gw = Gateway::start(&direct("a"));
    replace(&gw, "listeners: [ this is not valid\n");
    block_in_place(|| gw.wait_log("config reload rejected"));
    block_in_place(|| noise(&gw, 50));
    replace(&gw, &direct("c"));
    block_in_place(|| gw.wait_log("config reloaded"));
    let rejected = gw
        .logs()
        .iter()
        .filter(|l| l.contains("config reload rejected"))
        .count();
    assert_eq!(rejected, 1, "{:#?}", gw.logs());
    assert_eq!(reloads(&gw, "rejected").await, 1.0);
    assert_eq!(get(gw.addr("web"), "/").await.body, "c");
}

/// A referenced file (here the admin token) is watched too: the config
/// that named a missing token is retried when the token appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referenced_file_appearing_retries_the_config() {
    let mut gw = Gateway::start(&direct("a"));
    let with_token = direct("t").replace(
        "admin: {address: 127.0.0.1:0}",
        "admin: {address: 127.0.0.1:0, token_file: token}",
    );
    replace(&gw, &with_token);
    block_in_place(|| gw.wait_log("config reload rejected"));
    std::fs::write(gw.dir.path().join("token"), "0123456789abcdef0123\n").unwrap();
    block_in_place(|| gw.wait_log("config reloaded"));
    assert_eq!(get(gw.addr("web"), "/").await.body, "t");
}
