//! Network primitives shared by several stages.
pub mod cidr_table;
pub mod http_client;
