//! Portcullis: a security-first edge gateway.
//!
//! The request pipeline, in the order a request meets it:
//!
//! ```text
//! listener ─▶ guard ─▶ http ─▶ route ─▶ policy ─▶ upstream ─▶ observe
//! (accept,    (framing  (hyper   (match   (ordered  (balance,  (access log,
//!  PROXY,      checks)   server,  table)   chain)    pool,      emitted when
//!  client IP)            paths)                      forward)   the body ends)
//! ```
//!
//! `pipeline.rs` assembles the per-request stages in one function.
#![forbid(unsafe_code)]

pub mod admin;
pub mod anomaly;
pub mod app;
pub mod config;
pub mod feeds;
pub mod guard;
pub mod http;
pub mod listener;
pub mod net;
pub mod observe;
pub mod pipeline;
pub mod policy;
pub mod provider;
pub mod remediation;
pub mod route;
pub mod state;
pub mod tls;
pub mod upstream;
pub mod waf;
