//! Network primitives shared by several stages.
pub mod cidr_table;
