//! `portcullis validate` on TLS settings: keys must match certificates,
//! certificates must not be expired and must cover the routes' hosts, and
//! `insecure_skip_verify` loads with a warning.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::tls::Ca;
use rcgen::{CertificateParams, KeyPair};

fn validate(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["validate", "--config"])
        .arg(path)
        .output()
        .expect("run portcullis")
}

fn listener_yaml(cert: &Path, key: &Path, hosts: &str) -> String {
    format!(
        r#"
listeners:
  - name: https
    address: 127.0.0.1:8443
    tls:
      certificates: [{{ cert: "{}", key: "{}" }}]
routes:
  - name: r
    match: {{ hosts: {hosts} }}
    direct_response: {{ status: 200 }}
"#,
        cert.display(),
        key.display()
    )
}

fn run(dir: &Path, yaml: &str) -> (Option<i32>, String) {
    let path = dir.join("gateway.yaml");
    std::fs::write(&path, yaml).expect("write");
    let out = validate(&path);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), text)
}

#[test]
fn matching_key_and_covered_hosts_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let leaf = ca.leaf(dir.path(), "a", &["*.example.test", "example.test"]);
    let yaml = listener_yaml(&leaf.cert, &leaf.key, "[example.test, api.example.test]");
    let (code, stderr) = run(dir.path(), &yaml);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn key_mismatch_uncovered_host_and_expiry_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let a = ca.leaf(dir.path(), "a", &["a.example.test"]);
    let b = ca.leaf(dir.path(), "b", &["b.example.test"]);

    let (code, stderr) = run(
        dir.path(),
        &listener_yaml(&a.cert, &b.key, "[a.example.test]"),
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("does not match the certificate"),
        "{stderr}"
    );

    let (code, stderr) = run(
        dir.path(),
        &listener_yaml(&a.cert, &a.key, "[c.example.test]"),
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("routes[0].match.hosts[0]"), "{stderr}");
    assert!(stderr.contains("no certificate of listener"), "{stderr}");

    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["old.example.test".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).expect("cert");
    let (cert_path, key_path) = (dir.path().join("old.crt"), dir.path().join("old.key"));
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    let (code, stderr) = run(dir.path(), &listener_yaml(&cert_path, &key_path, "[]"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("has expired"), "{stderr}");

    let looping = listener_yaml(&a.cert, &a.key, "[a.example.test]")
        .replace("    tls:", "    https_redirect: { port: 8443 }\n    tls:");
    let (code, stderr) = run(dir.path(), &looping);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("listeners[0].https_redirect"), "{stderr}");

    let missing = dir.path().join("missing.crt");
    let (code, stderr) = run(dir.path(), &listener_yaml(&missing, &a.key, "[]"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read certificates"), "{stderr}");
}

#[test]
fn insecure_skip_verify_warns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = r#"
listeners:
  - name: web
    address: 127.0.0.1:8080
backends:
  - name: app
    endpoints: [{ address: "127.0.0.1:9443" }]
    tls: { insecure_skip_verify: true }
routes:
  - name: r
    backend: app
"#;
    let (code, stderr) = run(dir.path(), yaml);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: backends[0].tls.insecure_skip_verify"),
        "{stderr}"
    );
}

/// Relative certificate and key paths are read from the config file's
/// directory, whatever directory the gateway is started in.
#[test]
fn relative_certificate_paths_resolve_against_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    ca.leaf(dir.path(), "a", &["example.test"]);
    let yaml = listener_yaml(Path::new("a.crt"), Path::new("a.key"), "[example.test]");
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, yaml).expect("write");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .current_dir(elsewhere.path())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("run portcullis");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
