//! Stage 5: the policy chain (listener policies, then route policies, in order).
pub mod ip_filter;
