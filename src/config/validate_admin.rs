//! Semantic validation of `admin`: the same token rule `run` enforces
//! (through the same function, so `validate` and `run` cannot disagree) and
//! an admin address that no listener also binds.

use std::net::SocketAddr;
use std::path::Path;

use crate::config::spec::GatewayConfig;
use crate::config::validate::Issues;

pub(crate) fn check(out: &mut Issues, cfg: &GatewayConfig, admin: SocketAddr) {
    let token_file = cfg.admin.token_file.as_deref();
    if let Err(e) = crate::admin::auth::load(admin, token_file.map(Path::new)) {
        let field = if token_file.is_some() {
            "admin.token_file"
        } else {
            "admin.address"
        };
        out.push(field, e);
    }
    if admin.port() == 0 {
        return;
    }
    for (i, listener) in cfg.listeners.iter().enumerate() {
        let Ok(addr) = listener.address.parse::<SocketAddr>() else {
            continue; // reported with the listener
        };
        if overlaps(admin, addr) {
            out.push(
                "admin.address",
                format!(
                    "\"{admin}\" is also bound by listeners[{i}] ({:?} at \"{addr}\")",
                    listener.name
                ),
            );
        }
    }
}

/// Two binds collide on one port when their IPs are equal or either is the
/// wildcard of the same family.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    if a.port() != b.port() || a.is_ipv4() != b.is_ipv4() {
        return false;
    }
    a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(yaml: serde_json::Value) -> Vec<String> {
        let cfg: GatewayConfig = serde_json::from_value(yaml).unwrap();
        let admin = cfg.admin.address.parse().unwrap();
        let mut out = Issues::default();
        check(&mut out, &cfg, admin);
        out.0
            .into_iter()
            .map(|i| format!("{}: {}", i.field, i.message))
            .collect()
    }

    #[test]
    fn token_rules_match_run() {
        let e = issues(serde_json::json!({"admin": {"address": "0.0.0.0:9901"}}));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("admin.address: admin.address 0.0.0.0:9901 is not loopback"),
            "{e:?}"
        );
        let e = issues(
            serde_json::json!({"admin": {"address": "0.0.0.0:9901", "token_file": "/nonexistent/t"}}),
        );
        assert!(e[0].starts_with("admin.token_file: "), "{e:?}");
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").unwrap();
        let e = issues(serde_json::json!({"admin": {"address": "0.0.0.0:9901",
            "token_file": short.to_str().unwrap()}}));
        assert!(e[0].contains("at least 16 characters"), "{e:?}");
        assert!(issues(serde_json::json!({"admin": {"address": "127.0.0.1:9901"}})).is_empty());
    }

    #[test]
    fn admin_address_shared_with_a_listener() {
        let cfg = |admin: &str, listener: &str| {
            serde_json::json!({"admin": {"address": admin},
                "listeners": [{"name": "web", "address": listener}]})
        };
        assert_eq!(issues(cfg("127.0.0.1:8080", "127.0.0.1:8080")).len(), 1);
        assert_eq!(issues(cfg("127.0.0.1:8080", "0.0.0.0:8080")).len(), 1);
        assert!(issues(cfg("127.0.0.1:8080", "127.0.0.1:8081")).is_empty());
        assert!(issues(cfg("127.0.0.1:8080", "[::]:8080")).is_empty());
        assert!(issues(cfg("127.0.0.1:0", "127.0.0.1:0")).is_empty());
    }
}
