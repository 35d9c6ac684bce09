//! Stage 4: choose the route for a request. Pure: no I/O, no shared state.
//!
//! One matcher per file (`host`, `path`, `method`, `value` for headers and
//! query), the precedence key in `precedence`, and the indexed table that
//! combines them in `table`.
pub mod host;
pub mod method;
pub mod path;
pub mod precedence;
pub mod table;
pub mod value;

#[cfg(test)]
mod table_tests;

pub use table::{RequestView, RouteBuildError, RouteTable};
