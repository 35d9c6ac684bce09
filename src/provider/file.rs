//! The file provider: reads a YAML config file into a value, and watches it
//! for changes, including Kubernetes' atomic symlink swap of mounted ConfigMaps.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::error::ConfigErrors;
use crate::config::load;
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

/// Watches the directory holding `path` (a symlink swap replaces the file,
/// so watching the file itself would lose track of it). Each relevant event
/// sends `()`; the receiver debounces and compares contents.
pub fn watch(path: &Path) -> notify::Result<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(16);
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
        );
        if relevant {
            // A full channel already has a reload queued; dropping is fine.
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok((watcher, rx))
}
