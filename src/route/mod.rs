//! Stage 4: choose the route for a request. Pure: no I/O, no shared state.
pub mod host;
pub mod path;
pub mod table;
pub mod value;

pub use table::{RequestView, RouteBuildError, RouteTable};
