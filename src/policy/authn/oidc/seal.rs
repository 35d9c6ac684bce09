//! Sealed cookie values: AES-256-GCM (`ring`) with a random nonce, the key
//! id in clear so a rotated-out key still opens old cookies, and the
//! cookie's purpose as associated data so a login-state cookie can never be
//! replayed as a session cookie. A value that does not open is no value.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::spec_oidc::SessionKeySpec;

/// Longest sealed value opened (a session cookie is ~80 bytes).
const MAX_SEALED: usize = 2048;

pub struct Sealer {
    /// The first key seals; every key opens.
    keys: Vec<(String, LessSafeKey)>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

/// Whether a key id fits in a cookie value unescaped.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The 32 key bytes of a spec: base64 text inline or in a file, or a file
/// of exactly 32 raw bytes.
pub fn load_key(spec: &SessionKeySpec) -> Result<[u8; 32], String> {
    let raw = match (&spec.secret, &spec.file) {
        (Some(secret), None) => secret.trim().as_bytes().to_vec(),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            if bytes.len() == 32 {
                return bytes.try_into().map_err(|_| "key length".to_owned());
            }
            bytes.trim_ascii().to_vec()
        }
        _ => return Err("exactly one of secret, file must be set".to_owned()),
    };
    let decoded = STANDARD
        .decode(&raw)
        .or_else(|_| URL_SAFE_NO_PAD.decode(&raw))
        .map_err(|_| "the key is not base64".to_owned())?;
    decoded
        .try_into()
        .map_err(|_| "the key must be 32 bytes (base64 of 32 random bytes)".to_owned())
}

impl Sealer {
    pub fn compile(specs: &[SessionKeySpec]) -> Result<Self, String> {
        if specs.is_empty() {
            return Err("session_keys: at least one key is required".to_owned());
        }
        let mut keys = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            if !valid_key_id(&spec.id) {
                return Err(format!(
                    "session_keys[{i}].id: 1-32 letters, digits, '-' or '_'"
                ));
            }
            let bytes = load_key(spec).map_err(|e| format!("session_keys[{i}]: {e}"))?;
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("session_keys[{i}]: unusable key"))?;
            keys.push((spec.id.clone(), LessSafeKey::new(key)));
        }
        Ok(Self {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// `kid.base64url(nonce || ciphertext || tag)`; `None` only if the
    /// system RNG fails.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Option<String> {
        let (kid, key) = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.as_bytes()),
            &mut buf,
        )
        .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Some(format!("{kid}.{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The plaintext, if `sealed` was sealed by one of our keys for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let (kid, body) = sealed.split_once('.')?;
        let (_, key) = self.keys.iter().find(|(id, _)| id == kid)?;
        let mut bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).ok()?;
        let plain = key
            .open_in_place(
                nonce,
                Aad::from(purpose.as_bytes()),
                &mut bytes[NONCE_LEN..],
            )
            .ok()?;
        Some(plain.to_vec())
    }

    /// Random bytes (session ids, state, nonce, PKCE verifier).
    pub fn random<const N: usize>(&self) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        self.rng.fill(&mut out).ok()?;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> SessionKeySpec {
        SessionKeySpec {
            id: id.to_owned(),
            secret: Some(STANDARD.encode([byte; 32])),
            file: None,
        }
    }

    #[test]
    fn seals_opens_and_rotates() {
        let old = Sealer::compile(&[key("k1", 1)]).unwrap();
        let sealed = old.seal("session", b"id-123").unwrap();
        assert!(sealed.starts_with("k1."));
        assert_eq!(old.open("session", &sealed).unwrap(), b"id-123");
        // Rotation: a new first key seals, the old one still opens.
        let new = Sealer::compile(&[key("k2", 2), key("k1", 1)]).unwrap();
        assert_eq!(new.open("session", &sealed).unwrap(), b"id-123");
        assert!(new.seal("session", b"x").unwrap().starts_with("k2."));
        // Retired key: no longer opens.
        let retired = Sealer::compile(&[key("k2", 2)]).unwrap();
        assert!(retired.open("session", &sealed).is_none());
    }

    #[test]
    fn tampering_purpose_and_garbage_fail() {
        let s = Sealer::compile(&[key("k1", 1)]).unwrap();
        let sealed = s.seal("session", b"id-123").unwrap();
        assert!(s.open("login", &sealed).is_none(), "purpose is bound");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(s.open("session", &tampered).is_none());
        for junk in [
            "",
            ".",
            "k1.",
            "k1.!!!",
            "nokey",
            "k9.AAAA",
            &"k1.A".repeat(900),
        ] {
            assert!(s.open("session", junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        let short = SessionKeySpec {
            id: "k".into(),
            secret: Some(STANDARD.encode([0u8; 16])),
            file: None,
        };
        assert!(Sealer::compile(&[short]).is_err());
        assert!(Sealer::compile(&[]).is_err());
        assert!(Sealer::compile(&[key("bad.id", 1)]).is_err());
    }
}
