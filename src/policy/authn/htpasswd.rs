//! htpasswd files: `user:hash` lines, verified with bcrypt, argon2id, or
//! the legacy `{SHA}` and Apache `$apr1$` (MD5) schemes, which are accepted
//! for migrations and reported by `validate`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A password hash by scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hash {
    Bcrypt(String),
    Argon2(String),
    /// `{SHA}` + base64 of SHA-1: legacy.
    Sha1(Vec<u8>),
    /// `$apr1$salt$hash`: legacy.
    Apr1 {
        salt: String,
        hash: String,
    },
}

impl Hash {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("$2y$") || text.starts_with("$2b$") || text.starts_with("$2a$") {
            Ok(Hash::Bcrypt(text.to_owned()))
        } else if text.starts_with("$argon2id$") || text.starts_with("$argon2i$") {
            argon2::PasswordHash::new(text).map_err(|e| format!("argon2 hash: {e}"))?;
            Ok(Hash::Argon2(text.to_owned()))
        } else if let Some(b64) = text.strip_prefix("{SHA}") {
            let digest = STANDARD
                .decode(b64)
                .map_err(|_| "{SHA} hash: bad base64".to_owned())?;
            Ok(Hash::Sha1(digest))
        } else if let Some(rest) = text.strip_prefix("$apr1$") {
            let (salt, hash) = rest
                .split_once('$')
                .ok_or_else(|| "$apr1$ hash: missing salt".to_owned())?;
            Ok(Hash::Apr1 {
                salt: salt.to_owned(),
                hash: hash.to_owned(),
            })
        } else {
            Err("unsupported hash scheme (use bcrypt or argon2id; crypt(3) DES and plain text are refused)".to_owned())
        }
    }

    pub fn is_legacy(&self) -> bool {
        matches!(self, Hash::Sha1(_) | Hash::Apr1 { .. })
    }

    /// Checks `password` (slow for bcrypt/argon2: run off the request thread).
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Hash::Argon2(h) => {
                use argon2::PasswordVerifier;
                argon2::PasswordHash::new(h).is_ok_and(|parsed| {
                    argon2::Argon2::default()
                        .verify_password(password, &parsed)
                        .is_ok()
                })
            }
            Hash::Sha1(want) => {
                let got = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password);
                #[allow(deprecated)]
                ring::constant_time::verify_slices_are_equal(got.as_ref(), want).is_ok()
            }
            Hash::Apr1 { salt, hash } => {
                let got = apr1(password, salt.as_bytes());
                #[allow(deprecated)]
                ring::constant_time::verify_slices_are_equal(got.as_bytes(), hash.as_bytes())
                    .is_ok()
            }
        }
    }
}

/// Parses an htpasswd file: user → hash. Blank lines and `#` comments are
/// skipped; a malformed line is an error naming its line number.
pub fn parse(text: &str) -> Result<HashMap<String, Hash>, String> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, hash) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:hash", i + 1))?;
        let hash = Hash::parse(hash).map_err(|e| format!("line {}: {e}", i + 1))?;
        if users.insert(user.to_owned(), hash).is_some() {
            return Err(format!("line {}: user {user:?} is listed twice", i + 1));
        }
    }
    Ok(users)
}

/// Apache's MD5-crypt variant (`$apr1$`).
fn apr1(password: &[u8], salt: &[u8]) -> String {
    use md5::{Digest, Md5};
    let salt = &salt[..salt.len().min(8)];
    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(b"$apr1$");
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..password.len().min(1)]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(digest);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(digest);
        } else {
            c.update(password);
        }
        digest = c.finalize();
    }
    const ITOA: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(22);
    let mut push = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(ITOA[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    push((d(0) << 16) | (d(6) << 8) | d(12), 4);
    push((d(1) << 16) | (d(7) << 8) | d(13), 4);
    push((d(2) << 16) | (d(8) << 8) | d(14), 4);
    push((d(3) << 16) | (d(9) << 8) | d(15), 4);
    push((d(4) << 16) | (d(10) << 8) | d(5), 4);
    push(d(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_verify() {
        // Vectors from `openssl passwd -apr1 -salt r31..... secret` and base64(SHA-1("secret")).
        let bcrypt = bcrypt::hash("secret", 4).unwrap();
        let file = format!(
            "# users\nalice:{bcrypt}\nbob:{{SHA}}5en6G6MezRroT3XKqkdPOmY/BfQ=\ncarol:$apr1$r31.....$G/cElGhD0cboYkZN5h5Ne/\n"
        );
        let users = parse(&file).unwrap();
        assert!(users["alice"].verify(b"secret"));
        assert!(!users["alice"].verify(b"wrong"));
        assert!(users["bob"].verify(b"secret"));
        assert!(users["bob"].is_legacy());
        assert!(users["carol"].verify(b"secret"), "apr1 vector");
        assert!(!users["carol"].verify(b"Secret"));
    }

    #[test]
    fn argon2id_verifies() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let hash = argon2::Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let users = parse(&format!("dave:{hash}")).unwrap();
        assert!(users["dave"].verify(b"pw"));
        assert!(!users["dave"].verify(b"px"));
    }

    #[test]
    fn bad_files_name_the_line() {
        assert!(parse("alice").unwrap_err().contains("line 1"));
        assert!(parse("a:plaintext").unwrap_err().contains("unsupported"));
        assert!(parse("a:$2y$x\na:$2y$y").unwrap_err().contains("twice"));
    }
}
