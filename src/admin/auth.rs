//! Who may call the admin API: a bearer token read from a file, required
//! whenever the admin listener is reachable from off the host.
//!
//! Rule (fail closed): a non-loopback admin address without `token_file` is
//! a startup error; when `token_file` is set the token is required on every
//! endpoint except the kubelet's `/healthz` and `/readyz`, whatever the
//! address.

use std::net::SocketAddr;
use std::path::Path;

/// The admin bearer token (never printed: `Debug` is redacted).
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Shortest token accepted, so a placeholder like `x` cannot slip through.
const MIN_TOKEN_LEN: usize = 16;

/// True when `addr` can be reached from other hosts.
pub fn needs_token(addr: SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// Loads the token for an admin listener on `addr`.
pub fn load(addr: SocketAddr, token_file: Option<&Path>) -> Result<Option<Token>, String> {
    let Some(path) = token_file else {
        if needs_token(addr) {
            return Err(format!(
                "admin.address {addr} is not loopback: admin.token_file is required"
            ));
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("admin.token_file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace()) {
        return Err(format!(
            "admin.token_file {}: the token must be one word of at least {MIN_TOKEN_LEN} characters",
            path.display()
        ));
    }
    Ok(Some(Token(token.to_owned())))
}

/// Whether `headers` carry `Authorization: Bearer <token>`; always true when
/// no token is configured (loopback only, see [`load`]).
pub fn authorized(headers: &http::HeaderMap, token: Option<&Token>) -> bool {
    let Some(expected) = token else {
        return true;
    };
    let Some(given) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    constant_time_eq(given, expected.0.as_bytes())
}

/// Compares without an early exit, so response time does not reveal how
/// many leading bytes of a guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn loopback_rule() {
        assert!(!needs_token("127.0.0.1:9901".parse().unwrap()));
        assert!(!needs_token("[::1]:9901".parse().unwrap()));
        assert!(needs_token("0.0.0.0:9901".parse().unwrap()));
        assert!(needs_token("10.1.2.3:9901".parse().unwrap()));
        assert!(needs_token("[::]:9901".parse().unwrap()));
        let e = load("0.0.0.0:9901".parse().unwrap(), None).unwrap_err();
        assert!(e.contains("token_file"), "{e}");
        assert!(
            load("127.0.0.1:9901".parse().unwrap(), None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn token_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t-t0ken-0123456789\n").unwrap();
        let token = load("0.0.0.0:1".parse().unwrap(), Some(&path))
            .unwrap()
            .unwrap();
        assert!(authorized(
            &headers("Bearer s3cr3t-t0ken-0123456789"),
            Some(&token)
        ));
        assert!(!authorized(
            &headers("Bearer s3cr3t-t0ken-012345678"),
            Some(&token)
        ));
        assert!(!authorized(
            &headers("Bearer s3cr3t-t0ken-01234567890"),
            Some(&token)
        ));
        assert!(!authorized(&headers("Basic s3cr3t"), Some(&token)));
        assert!(!authorized(&http::HeaderMap::new(), Some(&token)));
        assert!(authorized(&http::HeaderMap::new(), None));
        assert!(!format!("{token:?}").contains("s3cr3t"));
        std::fs::write(&path, "short").unwrap();
        assert!(load("127.0.0.1:1".parse().unwrap(), Some(&path)).is_err());
    }
}
