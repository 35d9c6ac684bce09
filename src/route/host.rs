//! Route matcher (host). Filled by H4.
