//! Stage 6: choose an endpoint and forward the request to it.
pub mod backend;
pub mod balance;
pub mod clock;
pub mod dns;
pub mod endpoint;
pub mod forward;
pub mod h1;
pub mod h2;
pub mod health;
pub mod mirror;
pub mod retry;
pub mod retrying;
pub mod split;
