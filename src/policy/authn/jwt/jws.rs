//! Compact JWS (RFC 7515) parsing and signature verification with ring.
//! Only the signing input and the header are trusted to be what they say
//! after the signature checks; nothing in the header chooses a key type.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use crate::policy::authn::jwt::jwk::{Jwk, KeyMaterial};

/// Signing algorithms (RFC 7518 §3, RFC 8037). `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }
}

/// Why a token could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not three base64url segments of JSON (a JWE has five).
    Malformed,
    /// `alg` missing, `none`, or not one this gateway knows.
    UnsupportedAlgorithm,
    /// A `crit` header names extensions this gateway does not understand.
    UnsupportedCritical,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Vec<String>>,
}

/// A parsed, not yet verified, token.
#[derive(Debug)]
pub struct Jws<'t> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'t [u8],
    pub signature: Vec<u8>,
    /// The decoded payload (JSON, parsed after verification).
    pub payload: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Jws<'_>, ParseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| ParseError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&header).map_err(|_| ParseError::Malformed)?;
    let alg = header
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .ok_or(ParseError::UnsupportedAlgorithm)?;
    if header.crit.is_some_and(|c| !c.is_empty()) {
        return Err(ParseError::UnsupportedCritical);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| ParseError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| ParseError::Malformed)?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(Jws {
        alg,
        kid: header.kid,
        signing_input,
        signature,
        payload,
    })
}

impl Jws<'_> {
    /// Checks the signature with `key` (which must allow the algorithm).
    pub fn verify(&self, key: &Jwk) -> bool {
        if !key.allows(self.alg) {
            return false;
        }
        let msg = self.signing_input;
        let sig = &self.signature[..];
        match (&key.material, self.alg) {
            (KeyMaterial::Rsa { n, e }, alg) => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            (KeyMaterial::P256(point), Algorithm::ES256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (KeyMaterial::P384(point), Algorithm::ES384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (KeyMaterial::Ed25519(x), Algorithm::EdDSA) => {
                UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(msg, sig)
                    .is_ok()
            }
            (KeyMaterial::Secret(k), alg) => {
                let hmac_alg = match alg {
                    Algorithm::HS256 => ring::hmac::HMAC_SHA256,
                    Algorithm::HS384 => ring::hmac::HMAC_SHA384,
                    Algorithm::HS512 => ring::hmac::HMAC_SHA512,
                    _ => return false,
                };
                ring::hmac::verify(&ring::hmac::Key::new(hmac_alg, k), msg, sig).is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hs256_token(secret: &[u8], header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    }

    #[test]
    fn malformed_tokens() {
        for token in ["", "a", "a.b", "a.b.c.d.e", "!!.e30.AA", "e30.e30.AA"] {
            assert!(parse(token).is_err(), "{token:?}");
        }
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert_eq!(parse(&none).unwrap_err(), ParseError::UnsupportedAlgorithm);
        let crit = format!(
            "{}.{}.AA",
            b64(br#"{"alg":"HS256","crit":["exp"]}"#),
            b64(b"{}")
        );
        assert_eq!(parse(&crit).unwrap_err(), ParseError::UnsupportedCritical);
        let deep = "[".repeat(10_000);
        let deep = format!("{}.{}.AA", b64(deep.as_bytes()), b64(b"{}"));
        assert_eq!(parse(&deep).unwrap_err(), ParseError::Malformed);
    }

    #[test]
    fn hmac_verifies_only_with_a_secret_key() {
        let token = hs256_token(b"secret", r#"{"alg":"HS256","kid":"k"}"#, r#"{"sub":"a"}"#);
        let jws = parse(&token).unwrap();
        assert_eq!(jws.kid.as_deref(), Some("k"));
        let secret = Jwk {
            kid: None,
            alg: None,
            material: KeyMaterial::Secret(b"secret".to_vec()),
        };
        assert!(jws.verify(&secret));
        let wrong = Jwk {
            material: KeyMaterial::Secret(b"other".to_vec()),
            ..secret.clone()
        };
        assert!(!jws.verify(&wrong));
        // Algorithm confusion: an HS256 token "signed" with an RSA public key
        // never verifies against that RSA key.
        let rsa = Jwk {
            kid: None,
            alg: None,
            material: KeyMaterial::Rsa {
                n: b"secret".to_vec(),
                e: vec![1, 0, 1],
            },
        };
        assert!(!jws.verify(&rsa));
    }
}
