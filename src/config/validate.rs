//! Semantic validation of a GatewayConfig. Filled by H1.
