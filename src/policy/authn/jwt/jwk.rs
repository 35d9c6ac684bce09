//! JSON Web Keys (RFC 7517/7518) as verification keys. Each key is bound to
//! the algorithm family its type allows, so a token can never pick how its
//! signature is checked: an RSA key verifies only RS*/PS*, a P-256 key only
//! ES256, an `oct` secret only HS*. A key's own `alg`, when present, must
//! equal the token's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::policy::authn::jwt::jws::Algorithm;

/// Key material in the form ring verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point (0x04 ‖ x ‖ y).
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
    /// HMAC secret.
    Secret(Vec<u8>),
}

/// One verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The key's declared algorithm, when it has one.
    pub alg: Option<Algorithm>,
    pub material: KeyMaterial,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (
                KeyMaterial::Rsa { .. },
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) | (KeyMaterial::P256(_), Algorithm::ES256)
                | (KeyMaterial::P384(_), Algorithm::ES384)
                | (KeyMaterial::Ed25519(_), Algorithm::EdDSA)
                | (
                    KeyMaterial::Secret(_),
                    Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
                )
        )
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    k: Option<String>,
}

/// Parses a JWKS document. Keys that are not for signatures, of unknown
/// types or malformed are skipped (a provider may publish encryption keys
/// beside signing ones); the count of skipped keys is returned.
pub fn parse_set(json: &[u8]) -> Result<(Vec<Jwk>, usize), String> {
    let raw: RawSet = serde_json::from_slice(json).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = Vec::with_capacity(raw.keys.len());
    let mut skipped = 0;
    for value in raw.keys {
        match serde_json::from_value::<RawKey>(value)
            .map_err(|e| e.to_string())
            .and_then(parse_key)
        {
            Ok(Some(key)) => keys.push(key),
            Ok(None) | Err(_) => skipped += 1,
        }
    }
    Ok((keys, skipped))
}

fn b64(field: &str, value: Option<&String>) -> Result<Vec<u8>, String> {
    let text = value.ok_or_else(|| format!("missing {field}"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("{field}: {e}"))
}

fn parse_key(raw: RawKey) -> Result<Option<Jwk>, String> {
    if raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let alg = match raw.alg.as_deref() {
        Some(name) => match Algorithm::from_name(name) {
            Some(a) => Some(a),
            // An encryption algorithm (RSA-OAEP, ...): not a signing key.
            None => return Ok(None),
        },
        None => None,
    };
    let material = match raw.kty.as_str() {
        "RSA" => KeyMaterial::Rsa {
            n: b64("n", raw.n.as_ref())?,
            e: b64("e", raw.e.as_ref())?,
        },
        "EC" => {
            let x = b64("x", raw.x.as_ref())?;
            let y = b64("y", raw.y.as_ref())?;
            let (len, p256) = match raw.crv.as_deref() {
                Some("P-256") => (32, true),
                Some("P-384") => (48, false),
                _ => return Ok(None),
            };
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length".to_owned());
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            if p256 {
                KeyMaterial::P256(point)
            } else {
                KeyMaterial::P384(point)
            }
        }
        "OKP" => match raw.crv.as_deref() {
            Some("Ed25519") => KeyMaterial::Ed25519(b64("x", raw.x.as_ref())?),
            _ => return Ok(None),
        },
        "oct" => KeyMaterial::Secret(b64("k", raw.k.as_ref())?),
        _ => return Ok(None),
    };
    Ok(Some(Jwk {
        kid: raw.kid,
        alg,
        material,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_skips_others() {
        let doc = br#"{"keys":[
            {"kty":"RSA","kid":"r1","alg":"RS256","n":"AQAB","e":"AQAB"},
            {"kty":"EC","kid":"e1","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","kid":"oaep","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"},
            {"kty":"weird"},
            {"kty":"EC","crv":"P-256","x":"AA","y":"AA"}
        ]}"#;
        let (keys, skipped) = parse_set(doc).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(skipped, 4);
        assert!(keys[0].allows(Algorithm::RS256));
        assert!(!keys[0].allows(Algorithm::PS256), "alg pinned to RS256");
        assert!(!keys[0].allows(Algorithm::HS256));
        assert!(keys[1].allows(Algorithm::ES256));
        assert!(!keys[1].allows(Algorithm::ES384));
    }

    #[test]
    fn rejects_non_jwks() {
        assert!(parse_set(b"[]").is_err());
        assert!(parse_set(b"{").is_err());
    }
}
