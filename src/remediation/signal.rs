//! The per-request signal remediation scenarios consume, and the bounded
//! sink the completed access record writes it to (`try_send`: a full queue
//! drops the signal and counts it; a request never waits).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one finished request says about its client.
#[derive(Debug, Clone, Copy)]
pub struct Signal {
    pub ip: IpAddr,
    pub status: u16,
    /// A hash of the normalised path (distinct-path scenarios).
    pub path_hash: u64,
    pub static_asset: bool,
    /// The gateway's own refusal reason, if any.
    pub reason: Option<&'static str>,
    /// The gateway refused the client's credentials or authorization.
    pub failed_auth: bool,
}

/// Signals queued before the engine is behind and drops them.
pub const QUEUE: usize = 16_384;

#[derive(Debug, Clone)]
pub struct SignalSink {
    tx: tokio::sync::mpsc::Sender<Signal>,
    dropped: Arc<AtomicU64>,
}

impl SignalSink {
    pub fn channel() -> (Self, tokio::sync::mpsc::Receiver<Signal>) {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        (
            Self {
                tx,
                dropped: Arc::default(),
            },
            rx,
        )
    }

    pub fn send(&self, signal: Signal) {
        if self.tx.try_send(signal).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Static assets by extension (not counted by `non_static`).
pub fn is_static(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "css"
            | "js"
            | "mjs"
            | "png"
            | "jpg"
            | "jpeg"
            | "gif"
            | "svg"
            | "ico"
            | "webp"
            | "avif"
            | "woff"
            | "woff2"
            | "ttf"
            | "eot"
            | "map"
            | "txt"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_assets_by_extension() {
        assert!(is_static("/assets/app.JS"));
        assert!(is_static("/favicon.ico"));
        assert!(!is_static("/api/users"));
        assert!(!is_static("/download.php"));
        assert!(!is_static("/.env"));
    }
}
