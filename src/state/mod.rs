//! Per-key limiter state kept in memory, bounded so that keys an attacker
//! chooses cannot exhaust it.
pub mod bounded;
