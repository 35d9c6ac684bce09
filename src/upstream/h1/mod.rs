//! A lean HTTP/1.1 client for upstream connections.
//!
//! Why not hyper's client: it runs every upstream connection in its own task
//! and hands each request over through channels, which costs two task
//! switches per request; its pool adds a lock-protected map lookup. Here the
//! request's own future writes the head, reads the response head, and the
//! response body streams straight from the socket to the client, returning
//! the connection to a per-endpoint idle stack when it ends cleanly. Upstream
//! responses are parsed strictly: anything ambiguous is an error (502), never
//! relayed.
pub mod body;
pub mod chunked;
pub mod conn;
pub mod encode;
pub mod exchange;
pub mod pool;
pub mod response;
pub mod stream;
