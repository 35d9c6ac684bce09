//! Semantic validation of `state.redis` and each rate-limit `store` (field
//! paths resolve to file:line:col in the loader).

use std::time::Duration;

use crate::config::spec::GatewayConfig;
use crate::config::spec_redis::{RedisSpec, StoreBackend};
use crate::config::validate::Issues;

/// Shortest accepted key secret (HMAC-SHA256 wants at least 128 bits).
pub const MIN_SECRET_BYTES: usize = 16;

pub(crate) fn check(out: &mut Issues, cfg: &GatewayConfig) {
    if let Some(redis) = &cfg.state.redis {
        check_redis(out, "state.redis", redis);
    }
    for (i, p) in cfg.policies.iter().enumerate() {
        let Some(limit) = &p.rate_limit else { continue };
        let base = format!("policies[{i}].rate_limit.store");
        let store = &limit.store;
        if store.backend == StoreBackend::Redis && cfg.state.redis.is_none() {
            out.push(
                format!("{base}.backend"),
                "backend redis needs state.redis to be configured",
            );
        }
        if store.replicas == 0 || store.replicas > 1000 {
            out.push(format!("{base}.replicas"), "must be between 1 and 1000");
        }
        if !(400..=599).contains(&store.fail_closed_status) {
            out.push(
                format!("{base}.fail_closed_status"),
                "must be a 4xx or 5xx status",
            );
        }
    }
}

fn check_redis(out: &mut Issues, base: &str, r: &RedisSpec) {
    match url::Url::parse(&r.url) {
        Ok(url) if !matches!(url.scheme(), "redis" | "rediss" | "valkey" | "valkeys") => out.push(
            format!("{base}.url"),
            "scheme must be redis:// or rediss:// (TLS)",
        ),
        Ok(url) if url.password().is_some() => out.push(
            format!("{base}.url"),
            "no password in the URL; use password_file",
        ),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            out.push(format!("{base}.url"), "a host is required")
        }
        Ok(url) if r.ca_file.is_some() && !url.scheme().ends_with('s') => out.push(
            format!("{base}.ca_file"),
            "ca_file needs a TLS url (rediss://)",
        ),
        Ok(_) => {}
        Err(e) => out.push(format!("{base}.url"), format!("invalid URL: {e}")),
    }
    match std::fs::read(&r.key_secret_file) {
        Ok(secret) if secret.trim_ascii().len() < MIN_SECRET_BYTES => out.push(
            format!("{base}.key_secret_file"),
            format!("the secret must be at least {MIN_SECRET_BYTES} bytes"),
        ),
        Ok(_) => {}
        Err(e) => out.push(
            format!("{base}.key_secret_file"),
            format!("cannot read {:?}: {e}", r.key_secret_file),
        ),
    }
    for (field, path) in [("password_file", &r.password_file), ("ca_file", &r.ca_file)] {
        if let Some(path) = path
            && let Err(e) = std::fs::metadata(path)
        {
            out.push(
                format!("{base}.{field}"),
                format!("cannot read {path:?}: {e}"),
            );
        }
    }
    if r.username
        .as_deref()
        .is_some_and(|u| u.is_empty() || u.contains(char::is_whitespace))
    {
        out.push(format!("{base}.username"), "must be a non-empty word");
    }
    if r.key_prefix.len() > 64
        || r.key_prefix
            .contains(|c: char| c.is_whitespace() || c.is_control())
    {
        out.push(
            format!("{base}.key_prefix"),
            "at most 64 characters, no whitespace",
        );
    }
    if r.timeout < Duration::from_millis(1) || r.timeout > Duration::from_secs(10) {
        out.push(format!("{base}.timeout"), "must be between 1ms and 10s");
    }
    if r.breaker_interval < Duration::from_millis(10)
        || r.breaker_interval > Duration::from_secs(300)
    {
        out.push(
            format!("{base}.breaker_interval"),
            "must be between 10ms and 5m",
        );
    }
    if r.sync_interval < Duration::from_millis(100) || r.sync_interval > Duration::from_secs(3600) {
        out.push(
            format!("{base}.sync_interval"),
            "must be between 100ms and 1h",
        );
    }
}
