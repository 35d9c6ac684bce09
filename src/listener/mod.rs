//! Stage 1: accept connections, read PROXY headers, know who the client is.
pub mod accept;
pub mod bind;
pub mod client_ip;
pub mod drain;
pub mod proxy_protocol;
