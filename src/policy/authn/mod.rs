//! Authentication policies: each proves who the caller is and attaches the
//! principal to the request context, or refuses with a typed rejection
//! (401 with a challenge, 302 to a login page, 503 when the service it
//! depends on is down and the policy fails closed).

pub mod api_key;
pub mod basic;
pub mod cache;
pub mod discovery;
pub mod external;
pub mod htpasswd;
pub mod introspection;
pub mod jwt;
pub mod mtls;
pub mod oidc;
pub mod token;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use crate::http::reject::Rejection;

/// Unix seconds now (tokens carry wall-clock times).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A 401 for a bearer-token scheme (RFC 6750 §3): no error code when no
/// token was sent, `invalid_token` when one was and it failed.
pub fn bearer_unauthorized(policy: &Arc<str>, reason: &'static str) -> Rejection {
    let challenge = if reason == "token_missing" {
        format!("Bearer realm=\"{policy}\"")
    } else {
        format!(
            "Bearer realm=\"{policy}\", error=\"invalid_token\", error_description=\"{reason}\""
        )
    };
    Rejection::Unauthorized {
        policy: Arc::clone(policy),
        reason,
        challenge: HeaderValue::from_str(&challenge)
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer")),
    }
}

/// A 401 for a non-bearer scheme (`ApiKey`, `Basic`): `scheme realm="…"`.
pub fn unauthorized(policy: &Arc<str>, reason: &'static str, scheme: &str) -> Rejection {
    let challenge = format!("{scheme} realm=\"{policy}\"");
    Rejection::Unauthorized {
        policy: Arc::clone(policy),
        reason,
        challenge: HeaderValue::from_str(&challenge)
            .unwrap_or_else(|_| HeaderValue::from_static("Basic")),
    }
}
