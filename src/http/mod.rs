//! Stage 3: the HTTP server, strictness checks and synthetic responses.
pub mod body;
pub mod body_buffer;
pub mod body_limit;
pub mod filter;
pub mod forwarding;
pub mod grpc;
pub mod header_hygiene;
pub mod normalize;
pub mod path_strict;
pub mod redirect;
pub mod reject;
pub mod request_id;
pub mod server;
pub mod tunnel;
