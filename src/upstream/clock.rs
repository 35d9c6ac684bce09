//! The upstream stage's clock: monotonic milliseconds for health and balancing.
//!
//! Health state stores deadlines as plain `u64`s in atomics; a process-local
//! monotonic epoch keeps them small and immune to wall-clock jumps.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since the first call in this process (monotonic).
pub fn now_ms() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    // u64 milliseconds cover 584 million years; saturate rather than wrap.
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_monotonic() {
        let a = now_ms();
        let b = now_ms();
        assert!(b >= a);
    }
}
