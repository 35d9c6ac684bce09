//! Graceful drain: tell every connection to finish and wait until they have.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Shared by the accept loops and connections. A connection holds a
/// [`Hold`] for its lifetime; draining waits until every hold is dropped.
#[derive(Debug, Clone)]
pub struct Drain {
    signal: watch::Receiver<bool>,
    holds: mpsc::Sender<()>,
}

/// Proof that a connection is still running.
#[derive(Debug)]
pub struct Hold {
    _sender: mpsc::Sender<()>,
}

/// The owner side: starts the drain and waits for it.
#[derive(Debug)]
pub struct DrainControl {
    signal: watch::Sender<bool>,
    holds: mpsc::Receiver<()>,
    drain: Option<Drain>,
}

impl DrainControl {
    pub fn new() -> Self {
        let (signal, signal_rx) = watch::channel(false);
        let (holds_tx, holds) = mpsc::channel(1);
        Self {
            signal,
            holds,
            drain: Some(Drain {
                signal: signal_rx,
                holds: holds_tx,
            }),
        }
    }

    /// A handle for accept loops and connections.
    pub fn handle(&self) -> Option<Drain> {
        self.drain.clone()
    }

    /// Signals every connection to finish, then waits up to `grace` for them.
    /// Returns true when all connections closed in time.
    pub async fn drain(mut self, grace: Duration) -> bool {
        self.drain = None;
        let _ = self.signal.send(true);
        // recv() yields None once every Hold (and Drain clone) is dropped.
        tokio::time::timeout(grace, self.holds.recv()).await.is_ok()
    }
}

impl Default for DrainControl {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    pub fn hold(&self) -> Hold {
        Hold {
            _sender: self.holds.clone(),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.signal.clone()
    }

    pub fn is_draining(&self) -> bool {
        *self.signal.borrow()
    }
}

/// Resolves once `rx` turns true (or its sender is gone). The guard that
/// `wait_for` returns is dropped here, so callers can await across it.
pub async fn signalled(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}
