//! The file provider: reads a YAML config file into a value, and watches
//! the config file and the files it references
//! (certificates, keys, CA bundles, the admin token) and asks for a reload
//! when their contents change, including Kubernetes' atomic symlink swap of
//! mounted ConfigMaps and Secrets.
//!
//! Directories are watched (a symlink swap replaces the file, so a watch on
//! the file itself would lose it), but only events naming a watched file or
//! a kubelet `..data` entry count: an access log or an editor's swap file in
//! the same directory never triggers anything. Events are debounced, and a
//! reload is asked for only when the watched contents differ from the last
//! time, so one bad edit is tried (and its rejection logged) once, however
//! many times the directory is touched afterwards.

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::error::ConfigErrors;
use crate::config::load;
use crate::config::spec::GatewayConfig;
use crate::provider::{Loaded, Provider};

/// A YAML file, re-read on every change notification.
pub struct FileProvider {
    path: PathBuf,
    /// Kept alive for as long as the provider: dropping it stops the watch.
    watcher: Option<notify::RecommendedWatcher>,
}

impl FileProvider {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            watcher: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Provider for FileProvider {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&mut self) -> Result<Loaded, ConfigErrors> {
        load::load_file_document(&self.path)
    }

    fn changes(&mut self) -> Option<mpsc::Receiver<()>> {
        match watch(&self.path) {
            Ok((watcher, rx)) => {
                self.watcher = Some(watcher);
                Some(rx)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
                None
            }
        }
    }
}

/// Quiet time after the last event before contents are compared: editors
/// and `kubectl cp` write in several steps.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Watches `path` and the files its configuration references. Each change
/// of their contents sends `()` once, after `DEBOUNCE` of quiet.
pub fn watch(path: &Path) -> notify::Result<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(16);
    let (events_tx, events) = std_mpsc::channel::<notify::Event>();
    let forward = events_tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let _ = forward.send(event);
        }
    })?;
    let config = path.to_path_buf();
    watcher.watch(&dir_of(&config), RecursiveMode::NonRecursive)?;
    // Referenced files live in other directories too (a mounted Secret):
    // a second watcher, owned by the debounce thread, follows them as the
    // configuration names new ones.
    let referenced = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let _ = events_tx.send(event);
        }
    })?;
    // The baseline is taken before the gateway says it started, so an edit
    // right after that is a change.
    let watched = Watched::new(config);
    let baseline = watched.fingerprint();
    std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || debounce_loop(watched, baseline, referenced, events, tx))
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok((watcher, rx))
}

/// The watched set: the config file, the files it references, and the
/// directories holding them.
struct Watched {
    config: PathBuf,
    files: BTreeSet<PathBuf>,
    names: HashSet<(PathBuf, OsString)>,
    dirs: BTreeSet<PathBuf>,
}

impl Watched {
    fn new(config: PathBuf) -> Self {
        let mut w = Self {
            config,
            files: BTreeSet::new(),
            names: HashSet::new(),
            dirs: BTreeSet::new(),
        };
        w.refresh();
        w
    }

    /// Re-reads the configuration for the files it references (kept as they
    /// were when it does not parse: the next good edit updates them).
    fn refresh(&mut self) {
        if let Some(cfg) = parse(&self.config) {
            self.files = referenced_files(&cfg, &dir_of(&self.config));
        }
        self.names.clear();
        self.dirs.clear();
        for file in std::iter::once(&self.config).chain(&self.files) {
            let dir = dir_of(file);
            if let Some(name) = file.file_name() {
                self.names.insert((dir.clone(), name.to_owned()));
            }
            self.dirs.insert(dir);
        }
    }

    /// True when `event` names a watched file, or a kubelet `..data` swap in
    /// a watched directory.
    fn concerns(&self, event: &notify::Event) -> bool {
        let kind = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
        );
        kind && event.paths.iter().any(|p| {
            let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                return false;
            };
            let dir = dir.to_path_buf();
            self.names.contains(&(dir.clone(), name.to_owned()))
                || (name.to_string_lossy().starts_with("..") && self.dirs.contains(&dir))
        })
    }

    /// A hash of every watched file's contents (a missing file counts as a
    /// state of its own).
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for file in std::iter::once(&self.config).chain(&self.files) {
            file.hash(&mut h);
            std::fs::read(file).ok().hash(&mut h);
        }
        h.finish()
    }
}

fn debounce_loop(
    mut watched: Watched,
    mut last: u64,
    mut referenced: notify::RecommendedWatcher,
    events: std_mpsc::Receiver<notify::Event>,
    tx: mpsc::Sender<()>,
) {
    let mut followed = BTreeSet::new();
    follow(&mut referenced, &watched, &mut followed);
    loop {
        // Wakes up now and then to notice that the gateway stopped listening.
        let event = match events.recv_timeout(Duration::from_secs(1)) {
            Ok(event) => event,
            Err(std_mpsc::RecvTimeoutError::Timeout) if tx.is_closed() => return,
            Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if !watched.concerns(&event) {
            continue;
        }
        // Let the burst settle: wait until no relevant event for DEBOUNCE.
        loop {
            match events.recv_timeout(DEBOUNCE) {
                Ok(_) => {}
                Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        watched.refresh();
        follow(&mut referenced, &watched, &mut followed);
        let now = watched.fingerprint();
        if now == last {
            tracing::debug!("config files touched but unchanged; no reload");
            continue;
        }
        last = now;
        // A full channel already has a reload queued; dropping is fine.
        let _ = tx.try_send(());
    }
}

/// Watches the directories of referenced files not watched yet (the config
/// file's own directory is the main watcher's).
fn follow(
    watcher: &mut notify::RecommendedWatcher,
    watched: &Watched,
    followed: &mut BTreeSet<PathBuf>,
) {
    let main_dir = dir_of(&watched.config);
    for dir in &watched.dirs {
        if *dir == main_dir || followed.contains(dir) {
            continue;
        }
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                followed.insert(dir.clone());
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch a referenced directory")
            }
        }
    }
}

fn parse(path: &Path) -> Option<GatewayConfig> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc = crate::config::yaml::parse(&text).ok()?;
    serde_json::from_value(doc.value).ok()
}

/// The files a configuration reads at load time, resolved against the
/// config file's directory as the loader does.
pub fn referenced_files(cfg: &GatewayConfig, base: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut add = |p: &str| {
        out.insert(resolve(base, p));
    };
    if let Some(token) = &cfg.admin.token_file {
        add(token);
    }
    for listener in &cfg.listeners {
        let Some(tls) = &listener.tls else { continue };
        for c in &tls.certificates {
            add(&c.cert);
            add(&c.key);
        }
        if let Some(auth) = &tls.client_auth {
            add(&auth.ca);
            auth.crls.iter().for_each(|c| add(c));
        }
    }
    for backend in &cfg.backends {
        let Some(tls) = &backend.tls else { continue };
        if let Some(ca) = &tls.ca {
            add(ca);
        }
        if let Some(c) = &tls.client_certificate {
            add(&c.cert);
            add(&c.key);
        }
    }
    out
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, path: &Path) -> notify::Event {
        notify::Event::new(kind).add_path(path.to_path_buf())
    }

    #[test]
    fn only_watched_names_and_kubelet_swaps_concern_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, "admin: { token_file: /secrets/token }\n").unwrap();
        let w = Watched::new(config.clone());
        let modify = EventKind::Modify(notify::event::ModifyKind::Any);
        assert!(w.concerns(&event(modify, &config)));
        assert!(w.concerns(&event(modify, &dir.path().join("..data"))));
        assert!(w.concerns(&event(modify, Path::new("/secrets/token"))));
        for noise in ["access.log", ".gateway.yaml.swp", "gateway.yaml~", "4913"] {
            assert!(
                !w.concerns(&event(modify, &dir.path().join(noise))),
                "{noise}"
            );
        }
        assert!(!w.concerns(&event(modify, Path::new("/secrets/other"))));
    }

    #[test]
    fn fingerprint_follows_contents_not_touches() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, "listeners: []\n").unwrap();
        let w = Watched::new(config.clone());
        let first = w.fingerprint();
        std::fs::write(&config, "listeners: []\n").unwrap();
        assert_eq!(w.fingerprint(), first);
        std::fs::write(&config, "listeners: [] \n").unwrap();
        assert_ne!(w.fingerprint(), first);
    }

    #[test]
    fn relative_references_resolve_against_the_config_dir() {
        let cfg: GatewayConfig = serde_json::from_value(serde_json::json!({
            "admin": {"token_file": "token"},
            "listeners": [{"name": "l", "address": "127.0.0.1:0",
                "tls": {"certificates": [{"cert": "certs/a.pem", "key": "/abs/a.key"}]}}],
        }))
        .unwrap();
        let files = referenced_files(&cfg, Path::new("/etc/portcullis"));
        let want: BTreeSet<PathBuf> = [
            "/etc/portcullis/token",
            "/etc/portcullis/certs/a.pem",
            "/abs/a.key",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(files, want);
    }
}
