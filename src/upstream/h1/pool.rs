//! Idle upstream connections, one stack per endpoint (most recently used
//! first, so warm connections are reused and cold ones age out).

use std::sync::Mutex;
use std::time::Duration;

use crate::upstream::clock;
use crate::upstream::h1::conn::Connection;

#[derive(Debug)]
pub struct Pool {
    slots: Vec<Mutex<Vec<(Connection, u64)>>>,
    max_idle: usize,
    idle_ms: u64,
}

impl Pool {
    pub fn new(endpoints: usize, max_idle: usize, idle: Duration) -> Self {
        Self {
            slots: (0..endpoints).map(|_| Mutex::new(Vec::new())).collect(),
            max_idle,
            idle_ms: idle.as_millis() as u64,
        }
    }

    /// An idle connection to `endpoint` that is still usable, if any.
    pub fn checkout(&self, endpoint: usize) -> Option<Connection> {
        let slot = self.slots.get(endpoint)?;
        let now = clock::now_ms();
        loop {
            let (conn, since) = {
                let mut idle = slot.lock().ok()?;
                idle.pop()?
            };
            // Dropped outside the lock: closing a socket is a syscall.
            if now.saturating_sub(since) <= self.idle_ms && conn.is_reusable() {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for reuse, unless the endpoint already has enough idle.
    pub fn release(&self, endpoint: usize, mut conn: Connection) {
        let Some(slot) = self.slots.get(endpoint) else {
            return;
        };
        conn.reused = true;
        let now = clock::now_ms();
        let mut expired = Vec::new();
        if let Ok(mut idle) = slot.lock() {
            // The oldest entries sit at the front; drop those past the idle
            // timeout so a quiet endpoint does not keep stale sockets open.
            let stale =
                idle.partition_point(|(_, since)| now.saturating_sub(*since) > self.idle_ms);
            if stale > 0 {
                expired.extend(idle.drain(..stale));
            }
            if idle.len() < self.max_idle {
                idle.push((conn, now));
            }
        }
        drop(expired);
    }

    pub fn idle_count(&self, endpoint: usize) -> usize {
        self.slots
            .get(endpoint)
            .and_then(|s| s.lock().ok().map(|v| v.len()))
            .unwrap_or(0)
    }
}
