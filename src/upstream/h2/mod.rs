//! HTTP/2 to backends (`protocol: h2` and `grpc`): one multiplexed hyper
//! client connection per endpoint, shared by every request to it.
//!
//! Unlike the HTTP/1.1 client (`super::h1`), this uses hyper's client: an
//! HTTP/2 connection must read and write frames for many streams at once,
//! so it needs its own task whatever the design, and hyper's is proven.
pub mod body;
pub mod exchange;
pub mod slot;
