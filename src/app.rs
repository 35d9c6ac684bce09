//! The running gateway.
