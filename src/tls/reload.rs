//! Certificate hot reload: the directories holding a listener's certificate
//! and key files are watched (not the files: Kubernetes updates a mounted
//! Secret by swapping a `..data` symlink, which a file watch would miss), and
//! a change reloads every certificate of the listener. A set that fails to
//! load is refused whole and the old one keeps serving. Only a change of the
//! files' contents is tried, so a rejected pair is logged once per change,
//! not at every unrelated write in its directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};

use crate::tls::certs;
use crate::tls::server::{CertStore, load_store};
use crate::tls::spec::ListenerTlsSpec;

/// Certificates closer to expiry than this are reported at every load.
pub const EXPIRY_WARNING_SECS: i64 = 14 * 24 * 3600;

/// Starts a watcher thread for `spec`'s files. The thread ends once `store`
/// is dropped (the listener's TLS runtime was replaced or stopped).
pub fn watch(listener: &str, spec: &ListenerTlsSpec, store: &Arc<ArcSwap<CertStore>>) {
    let dirs: BTreeSet<PathBuf> = spec
        .certificates
        .iter()
        .flat_map(|c| [&c.cert, &c.key])
        // Inline PEM changes only with the config itself.
        .filter(|p| !certs::is_inline_pem(p))
        .map(|p| parent_dir(Path::new(p)))
        .collect();
    let (tx, rx) = mpsc::channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(listener, error = %e, "cannot watch certificate files; hot reload is off");
            return;
        }
    };
    for dir in &dirs {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(listener, dir = %dir.display(), error = %e, "cannot watch a certificate directory");
        }
    }
    let weak = Arc::downgrade(store);
    let spec = spec.clone();
    let baseline = fingerprint(&spec);
    let listener = listener.to_owned();
    let spawned = std::thread::Builder::new()
        .name("tls-reload".into())
        .spawn(move || run(watcher, rx, weak, spec, listener, baseline));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the certificate reload thread");
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn run(
    _watcher: notify::RecommendedWatcher,
    rx: mpsc::Receiver<()>,
    store: Weak<ArcSwap<CertStore>>,
    spec: ListenerTlsSpec,
    listener: String,
    mut tried: u64,
) {
    // The expiry warning repeats daily, so a certificate that nobody
    // rotates keeps showing up in the logs until it is.
    let mut last_warning = std::time::Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(live) = store.upgrade() else { return };
                if last_warning.elapsed() >= Duration::from_secs(24 * 3600) {
                    last_warning = std::time::Instant::now();
                    warn_expiring(&listener, &live.load());
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        // A Secret update writes several files; let the burst settle so the
        // new key is not paired with the old certificate.
        while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
        let Some(store) = store.upgrade() else { return };
        // Same bytes as last time (loaded or refused): nothing to do, and
        // nothing to log again.
        let now = fingerprint(&spec);
        if now == tried {
            continue;
        }
        tried = now;
        reload(&listener, &spec, &store);
    }
}

/// A hash of the contents of every certificate and key file of `spec` (an
/// unreadable file counts as a state of its own).
fn fingerprint(spec: &ListenerTlsSpec) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    for c in &spec.certificates {
        for path in [&c.cert, &c.key] {
            std::fs::read(path).ok().hash(&mut h);
        }
    }
    h.finish()
}

/// Reloads the certificates; keeps the old ones when any new one is bad.
pub fn reload(listener: &str, spec: &ListenerTlsSpec, store: &ArcSwap<CertStore>) {
    match load_store(spec) {
        Ok(fresh) => {
            let unchanged = {
                let old = store.load();
                old.certs.len() == fresh.certs.len()
                    && old
                        .certs
                        .iter()
                        .zip(&fresh.certs)
                        .all(|(a, b)| a.key.cert == b.key.cert)
            };
            if unchanged {
                return;
            }
            warn_expiring(listener, &fresh);
            store.store(Arc::new(fresh));
            tracing::info!(listener, "certificates reloaded");
        }
        Err(errors) => {
            for error in errors {
                tracing::error!(listener, %error, "certificate reload rejected; the previous certificates keep serving");
            }
        }
    }
}

/// Logs a warning for each certificate that expires within 14 days.
pub fn warn_expiring(listener: &str, store: &CertStore) {
    let now = certs::now_secs();
    for cert in &store.certs {
        let left = cert.not_after - now;
        if left < EXPIRY_WARNING_SECS {
            tracing::warn!(
                listener,
                certificate = %cert.source,
                days_left = left / 86400,
                "certificate expires soon"
            );
        }
    }
}
