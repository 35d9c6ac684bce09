//! YAML parsing with positions. Filled by H1.
