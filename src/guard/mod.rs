//! Stage 2: connection guards that run on raw bytes before HTTP parsing.
pub mod framing;
