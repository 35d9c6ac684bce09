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
        Ok(url) if r.ca_file.is_some() && !matches!(url.scheme(), "rediss" | "valkeys") => out
            .push(
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

#[cfg(test)]
mod tests {
    use crate::config::load::load_str;

    /// The errors of `yaml` as `line:col field: message` strings.
    fn errors(yaml: &str) -> Vec<String> {
        match load_str(yaml, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => {
                e.0.iter()
                    .map(|e| {
                        format!(
                            "{}:{} {}: {}",
                            e.line.unwrap_or(0),
                            e.column.unwrap_or(0),
                            e.field,
                            e.message
                        )
                    })
                    .collect()
            }
        }
    }

    fn config(redis: &str, store: &str, secret: &str) -> String {
        format!(
            "state:\n  redis:\n    key_secret_file: {secret}\n{redis}\npolicies:\n  - name: p\n    rate_limit:\n      limits: [{{ rate: 1 }}]\n      store: {store}\n"
        )
    }

    fn secret() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "0123456789abcdef0123").unwrap();
        let p = path.display().to_string();
        (dir, p)
    }

    #[test]
    fn a_good_config_passes() {
        let (_d, s) = secret();
        let yaml = config(
            "    url: rediss://r.example:6380/1\n    username: gw",
            "{ backend: redis, on_failure: fail_closed, replicas: 3 }",
            &s,
        );
        assert_eq!(errors(&yaml), Vec::<String>::new());
    }

    #[test]
    fn every_field_has_a_wrong_value_test_with_its_position() {
        let (_d, s) = secret();
        let cases: &[(&str, &str, &str)] = &[
            ("    url: http://x:1", "{}", "4:10 state.redis.url: scheme"),
            (
                "    url: redis://:pw@x:1",
                "{}",
                "state.redis.url: no password",
            ),
            ("    url: 'redis://'", "{}", "state.redis.url:"),
            (
                "    url: redis://x:1\n    ca_file: /etc/hostname",
                "{}",
                "state.redis.ca_file: ca_file needs a TLS url",
            ),
            (
                "    url: redis://x:1\n    ca_file: /nope",
                "{}",
                "state.redis.ca_file: cannot read",
            ),
            (
                "    url: redis://x:1\n    password_file: /nope",
                "{}",
                "state.redis.password_file: cannot read",
            ),
            (
                "    url: redis://x:1\n    username: 'a b'",
                "{}",
                "state.redis.username",
            ),
            (
                "    url: redis://x:1\n    key_prefix: 'a b'",
                "{}",
                "state.redis.key_prefix",
            ),
            (
                "    url: redis://x:1\n    timeout: 0s",
                "{}",
                "5:14 state.redis.timeout",
            ),
            (
                "    url: redis://x:1\n    timeout: 1m",
                "{}",
                "state.redis.timeout",
            ),
            (
                "    url: redis://x:1\n    breaker_interval: 1ms",
                "{}",
                "state.redis.breaker_interval",
            ),
            (
                "    url: redis://x:1\n    sync_interval: 2h",
                "{}",
                "state.redis.sync_interval",
            ),
            (
                "    url: redis://x:1",
                "{ replicas: 0 }",
                "policies[0].rate_limit.store.replicas",
            ),
            (
                "    url: redis://x:1",
                "{ fail_closed_status: 200 }",
                "policies[0].rate_limit.store.fail_closed_status",
            ),
            (
                "    url: redis://x:1",
                "{ backend: disk }",
                "policies[0].rate_limit.store.backend",
            ),
            (
                "    url: redis://x:1",
                "{ on_failure: maybe }",
                "policies[0].rate_limit.store.on_failure",
            ),
        ];
        for (redis, store, expected) in cases {
            let got = errors(&config(redis, store, &s));
            assert!(
                got.iter().any(|e| e.contains(expected)),
                "{redis} / {store}: expected {expected:?} in {got:?}"
            );
        }
        // The secret: missing, or too short.
        let got = errors(&config("    url: redis://x:1", "{}", "/nope"));
        assert!(
            got.iter()
                .any(|e| e.contains("3:22 state.redis.key_secret_file: cannot read")),
            "{got:?}"
        );
        let short = _d.path().join("short");
        std::fs::write(&short, "tiny").unwrap();
        let got = errors(&config(
            "    url: redis://x:1",
            "{}",
            &short.display().to_string(),
        ));
        assert!(
            got.iter().any(|e| e.contains("at least 16 bytes")),
            "{got:?}"
        );
    }

    #[test]
    fn a_redis_store_needs_state_redis() {
        let yaml = "policies:\n  - name: p\n    rate_limit:\n      limits: [{ rate: 1 }]\n      store: { backend: redis }\n";
        let got = errors(yaml);
        assert!(
            got.iter().any(|e| e.contains(
                "5:25 policies[0].rate_limit.store.backend: backend redis needs state.redis"
            )),
            "{got:?}"
        );
    }
}
