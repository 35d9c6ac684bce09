//! Route matcher (value). Filled by H4.
