//! The bounded queue between request tasks and a log stream's writer
//! thread: records are appended to one shared batch, and the writer takes
//! the whole batch at once and hands it to its sink in one `write`.
//!
//! Why not a channel of lines: a channel wakes the writer for every record
//! (a futex wake and a context switch per request under load) and moves one
//! allocation per record across threads. Here a producer only copies its
//! line under a short lock; it wakes the writer only when the writer sleeps
//! with nothing queued (empty → non-empty) or when the batch reaches
//! [`BATCH_BYTES`]. A busy writer writes at most once per [`MAX_DELAY`], so
//! a record waits at most that long and a burst costs one syscall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A batch this large is written at once, without waiting for [`MAX_DELAY`].
pub const BATCH_BYTES: usize = 64 * 1024;
/// The longest a queued record waits while the writer is busy.
pub const MAX_DELAY: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct LogQueue {
    pending: Mutex<Pending>,
    /// The writer waits here for records, a full batch, or a flush.
    wake: Condvar,
    /// Flushers wait here for the writer to finish.
    idle: Condvar,
    /// Records held before new ones are dropped.
    capacity: usize,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    records: usize,
    /// The writer sleeps without a deadline: the next record must wake it.
    writer_asleep: bool,
    /// A batch is out of the queue but not yet written.
    writing: bool,
    /// Write what is queued now (shutdown flush).
    urgent: bool,
    closed: bool,
}

impl LogQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
            capacity,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; if something did, the bytes
        // are still whole records, so keep going rather than lose the log.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one record (ending in `\n`); a full or closed queue drops and
    /// counts it instead of waiting.
    pub fn push(&self, record: &[u8]) {
        let mut pending = self.lock();
        if pending.closed || pending.records >= self.capacity {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(record);
        pending.records += 1;
        let first = pending.writer_asleep;
        let filled = before < BATCH_BYTES && pending.bytes.len() >= BATCH_BYTES;
        if first {
            pending.writer_asleep = false;
        }
        drop(pending);
        if first || filled {
            self.wake.notify_one();
        }
    }

    /// The writer's side: waits for the next batch and swaps it into
    /// `batch` (whose old content is discarded); returns its record count,
    /// or `None` once the queue is closed and empty.
    pub fn next_batch(&self, batch: &mut Vec<u8>, last_write: Instant) -> Option<u64> {
        let mut pending = self.lock();
        pending.writing = false;
        self.idle.notify_all();
        loop {
            if pending.records == 0 {
                if pending.closed {
                    return None;
                }
                pending.urgent = false;
                pending.writer_asleep = true;
                pending = self
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let due = last_write + MAX_DELAY;
            let now = Instant::now();
            if now >= due || pending.bytes.len() >= BATCH_BYTES || pending.urgent || pending.closed
            {
                break;
            }
            pending = self
                .wake
                .wait_timeout(pending, due - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        batch.clear();
        std::mem::swap(batch, &mut pending.bytes);
        let records = std::mem::take(&mut pending.records) as u64;
        pending.writing = true;
        Some(records)
    }

    /// Asks the writer to write what is queued now and waits (at most
    /// `timeout`) until it has.
    pub fn flush(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut pending = self.lock();
        pending.urgent = true;
        self.wake.notify_one();
        while pending.records > 0 || pending.writing {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            pending = self
                .idle
                .wait_timeout(pending, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// No more records: the writer writes what is queued and stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn batches_records_and_drops_past_capacity() {
        let queue = LogQueue::new(3);
        for line in [&b"a\n"[..], b"b\n", b"c\n", b"d\n"] {
            queue.push(line);
        }
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 1);
        let mut batch = Vec::new();
        let long_ago = Instant::now() - MAX_DELAY;
        assert_eq!(queue.next_batch(&mut batch, long_ago), Some(3));
        assert_eq!(batch, b"a\nb\nc\n");
        // Room again once the writer took the batch.
        queue.push(b"e\n");
        queue.close();
        assert_eq!(queue.next_batch(&mut batch, long_ago), Some(1));
        assert_eq!(batch, b"e\n");
        assert_eq!(queue.next_batch(&mut batch, long_ago), None);
        queue.push(b"late\n");
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn sleeping_writer_is_woken_by_the_first_record_and_flush_waits() {
        let queue = Arc::new(LogQueue::new(16));
        let writer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                let mut batch = Vec::new();
                let mut out = Vec::new();
                let mut last = Instant::now() - MAX_DELAY;
                while let Some(n) = queue.next_batch(&mut batch, last) {
                    out.extend_from_slice(&batch);
                    queue.written.fetch_add(n, Ordering::Relaxed);
                    last = Instant::now();
                }
                out
            })
        };
        queue.push(b"one\n");
        queue.push(b"two\n");
        queue.flush(Duration::from_secs(5));
        assert_eq!(queue.written.load(Ordering::Relaxed), 2);
        queue.close();
        assert_eq!(writer.join().unwrap(), b"one\ntwo\n");
    }
}
