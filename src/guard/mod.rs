//! Stage 2: connection guards that run on raw bytes before HTTP parsing.
pub mod conn_limit;
pub mod framing;
pub mod h2_flood;
pub mod idle;
