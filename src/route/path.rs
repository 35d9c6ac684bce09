//! Route matcher (path). Filled by H4.
