//! Idle upstream connections of one endpoint (most recently used first, so
//! warm connections are reused and cold ones age out). Each endpoint owns
//! its pool, so an endpoint that stays across an endpoint-set change keeps
//! its warm connections and one that leaves takes its own with it.

use std::sync::Mutex;
use std::time::Duration;

use crate::upstream::clock;
use crate::upstream::h1::conn::Connection;

#[derive(Debug)]
pub struct Pool {
    idle: Mutex<Vec<(Connection, u64)>>,
    max_idle: usize,
    idle_ms: u64,
}

impl Pool {
    pub fn new(max_idle: usize, idle: Duration) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_ms: idle.as_millis() as u64,
        }
    }

    /// An idle connection that is still usable, if any.
    pub fn checkout(&self) -> Option<Connection> {
        let now = clock::now_ms();
        loop {
            let (conn, since) = {
                let mut idle = self.idle.lock().ok()?;
                idle.pop()?
            };
            // Dropped outside the lock: closing a socket is a syscall.
            if now.saturating_sub(since) <= self.idle_ms && conn.is_reusable() {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for reuse, unless the endpoint already has enough idle.
    pub fn release(&self, mut conn: Connection) {
        conn.reused = true;
        let now = clock::now_ms();
        let mut expired = Vec::new();
        if let Ok(mut idle) = self.idle.lock() {
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

    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }
}
