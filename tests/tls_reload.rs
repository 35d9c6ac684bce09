//! Certificate hot reload: a Kubernetes-style atomic symlink swap of a
//! mounted Secret under a running client loop (zero failed requests,
//! established connections kept), and a bad new certificate refused while
//! the old one keeps serving.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use common::tls::{Ca, ClientOpts};
use common::*;
use http::Request;
use http_body_util::Full;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Writes a certificate and key into `secret/<version>/` and points
/// `secret/..data` at it with an atomic rename, as the kubelet does.
fn publish(secret: &Path, version: &str, cert_pem: &str, key_pem: &str) {
    let dir = secret.join(version);
    std::fs::create_dir_all(&dir).expect("version dir");
    std::fs::write(dir.join("tls.crt"), cert_pem).expect("cert");
    std::fs::write(dir.join("tls.key"), key_pem).expect("key");
    let tmp = secret.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp).expect("symlink");
    std::fs::rename(&tmp, secret.join("..data")).expect("swap");
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .as_ref()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_and_bad_certificate_kept_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let first = ca.leaf(dir.path(), "first", &["gw.test"]);
    let second = ca.leaf(dir.path(), "second", &["gw.test"]);
    let read = |p: &Path| std::fs::read_to_string(p).expect("read");

    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&secret).expect("secret dir");
    publish(&secret, "..v1", &read(&first.cert), &read(&first.key));
    for file in ["tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), secret.join(file)).expect("link");
    }

    let up = Upstream::start("u").await;
    let yaml = format!(
        r#"
admin: {{ address: 127.0.0.1:0 }}
server: {{ access_log: false }}
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: "{0}/tls.crt", key: "{0}/tls.key" }}]
backends:
  - name: app
    endpoints: [{{ address: "{1}" }}]
routes:
  - name: app
    backend: app
"#,
        secret.display(),
        up.addr
    );
    let mut gw = Gateway::start(&yaml);
    let addr = gw.addr("https");
    let opts = ClientOpts {
        sni: Some("gw.test".into()),
        ..ClientOpts::default()
    };

    // An established keep-alive connection from before the rotation.
    let session = tls::connect(addr, &ca.pem, &opts).await.expect("first");
    assert_eq!(session.server_cert, der_of(&first.cert_pem));
    let (mut kept, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(session.stream))
            .await
            .expect("h1");
    tokio::spawn(conn);

    // A client loop: a new handshake and request per iteration.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let latest = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = {
        let (stop, failures, served, latest) = (
            Arc::clone(&stop),
            Arc::clone(&failures),
            Arc::clone(&served),
            Arc::clone(&latest),
        );
        let (ca_pem, opts) = (ca.pem.clone(), opts.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match tls::connect(addr, &ca_pem, &opts).await {
                    Ok(session) => {
                        let cert = session.server_cert.clone();
                        let req = Request::get("/")
                            .header("host", "gw.test")
                            .body(Full::new(Bytes::new()))
                            .expect("req");
                        match tls::send_h1(session, req).await {
                            Ok(r) if r.status == 200 => {
                                if let Ok(mut l) = latest.lock() {
                                    *l = cert;
                                }
                                true
                            }
                            _ => false,
                        }
                    }
                    Err(_) => false,
                };
                if ok {
                    served.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let wait_for = |want: Vec<u8>| {
        let latest = Arc::clone(&latest);
        async move {
            let deadline = Instant::now() + WAIT;
            while latest.lock().map(|l| *l != want).unwrap_or(true) {
                assert!(
                    Instant::now() < deadline,
                    "new certificate not served in time"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(der_of(&first.cert_pem)).await;

    publish(&secret, "..v2", &read(&second.cert), &read(&second.key));
    gw.wait_log("certificates reloaded");
    wait_for(der_of(&second.cert_pem)).await;

    // A certificate whose key does not match: refused, the second stays.
    publish(&secret, "..v3", &read(&first.cert), &read(&second.key));
    let line = gw.wait_log("certificate reload rejected");
    assert!(line.contains("does not match"), "{line}");
    let served_before = served.load(Ordering::Relaxed);
    let deadline = Instant::now() + WAIT;
    while served.load(Ordering::Relaxed) < served_before + 5 {
        assert!(Instant::now() < deadline, "client loop stalled");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let session = tls::connect(addr, &ca.pem, &opts).await.expect("after bad");
    assert_eq!(session.server_cert, der_of(&second.cert_pem));

    stop.store(true, Ordering::Relaxed);
    client.await.expect("client loop");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "failed requests");
    assert!(served.load(Ordering::Relaxed) > 10);

    // The connection from before the rotation still serves.
    let req = Request::get("/")
        .header("host", "gw.test")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let resp = kept.send_request(req).await.expect("kept connection");
    assert_eq!(resp.status(), 200);
}

/// A refused certificate/key pair is logged once per change: later writes
/// in the Secret's directory that do not change the files are not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_pair_is_logged_once_per_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "t");
    let first = ca.leaf(dir.path(), "first", &["gw.test"]);
    let second = ca.leaf(dir.path(), "second", &["gw.test"]);
    let read = |p: &Path| std::fs::read_to_string(p).expect("read");
    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&secret).expect("secret dir");
    publish(&secret, "..v1", &read(&first.cert), &read(&first.key));
    for file in ["tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), secret.join(file)).expect("link");
    }
    let yaml = format!(
        "admin: {{ address: 127.0.0.1:0 }}\nlisteners:\n  - name: https\n    address: 127.0.0.1:0\n    tls:\n      certificates: [{{ cert: \"{0}/tls.crt\", key: \"{0}/tls.key\" }}]\nroutes:\n  - name: r\n    direct_response: {{ status: 200 }}\n",
        secret.display()
    );
    let mut gw = Gateway::start(&yaml);
    publish(&secret, "..v2", &read(&first.cert), &read(&second.key));
    gw.wait_log("certificate reload rejected");
    // Unrelated writes in the watched directory, paced wider than the
    // reload thread's 200 ms settle time so each is a burst of its own
    // (pacing the attack, not waiting for the gateway).
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(300));
    for i in 0..4 {
        pace.tick().await;
        std::fs::write(secret.join(format!("noise-{i}")), "x").expect("noise");
    }
    pace.tick().await;
    // A good pair after the noise: once it is live, the noise was judged.
    publish(&secret, "..v3", &read(&second.cert), &read(&second.key));
    gw.wait_log("certificates reloaded");
    let rejected = gw
        .logs()
        .iter()
        .filter(|l| l.contains("certificate reload rejected"))
        .count();
    assert_eq!(rejected, 1, "{:#?}", gw.logs());
}
