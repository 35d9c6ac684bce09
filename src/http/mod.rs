//! Stage 3: the HTTP server, strictness checks and synthetic responses.
pub mod normalize;
