//! The rate-limit key: parts of the request hashed into one `u64` without
//! allocating. Client IPs are aggregated to a prefix first.
//!
//! The hash is SipHash with a per-limiter random key, so clients cannot
//! choose values that collide with another client's key; a limit shared by
//! replicas (Redis store) uses HMAC with their shared secret instead
//! ([`KeyBuilder::shared`]), so every replica computes the same key.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::IpAddr;

use http::HeaderName;

use crate::config::spec_rate_limit::{KeyPartSpec, MissingKey};
use crate::policy::PolicyInput;
use crate::state::key_hash::SharedKeyHasher;

/// Which keyed hash turns key parts into a key.
#[derive(Debug, Clone)]
enum KeyHash {
    /// Per-process random SipHash (memory store).
    Local(RandomState),
    /// HMAC with the replicas' shared secret (shared store).
    Shared(SharedKeyHasher),
}

#[derive(Debug, Clone)]
pub enum KeyPart {
    ClientIp,
    Route,
    Host,
    Header(HeaderName),
    Query(Box<str>),
    Subject,
    ClientId,
    Claim(Box<str>),
}

impl KeyPart {
    /// Parts that exist only once an authentication policy ran.
    pub fn reads_principal(&self) -> bool {
        matches!(
            self,
            KeyPart::Subject | KeyPart::ClientId | KeyPart::Claim(_)
        )
    }
}

/// How a request maps to a key.
#[derive(Debug)]
pub struct KeyBuilder {
    parts: Vec<KeyPart>,
    v4_prefix: u8,
    v6_prefix: u8,
    missing: MissingKey,
    /// Mixes the route name in (scope `route`).
    per_route: bool,
    hasher: KeyHash,
}

/// A key, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Key(u64),
    /// A part is missing and the rule says the limit does not apply.
    Skip,
    /// A part is missing and the rule says reject.
    Reject,
}

impl KeyBuilder {
    pub fn compile(
        parts: &[KeyPartSpec],
        v4_prefix: u8,
        v6_prefix: u8,
        missing: MissingKey,
        per_route: bool,
    ) -> Result<Self, String> {
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            out.push(match part {
                KeyPartSpec::ClientIp => KeyPart::ClientIp,
                KeyPartSpec::Route => KeyPart::Route,
                KeyPartSpec::Host => KeyPart::Host,
                KeyPartSpec::Header(name) => KeyPart::Header(
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("invalid header name {name:?}"))?,
                ),
                KeyPartSpec::Query(name) => KeyPart::Query(name.as_str().into()),
                KeyPartSpec::Subject => KeyPart::Subject,
                KeyPartSpec::ClientId => KeyPart::ClientId,
                KeyPartSpec::Claim(path) => KeyPart::Claim(path.as_str().into()),
            });
        }
        if v4_prefix > 32 || v6_prefix > 128 {
            return Err("prefix length out of range".to_owned());
        }
        Ok(Self {
            parts: out,
            v4_prefix,
            v6_prefix,
            missing,
            per_route,
            hasher: KeyHash::Local(RandomState::new()),
        })
    }

    /// Whether a part of the key is read from the principal.
    pub fn reads_principal(&self) -> bool {
        self.parts.iter().any(KeyPart::reads_principal)
    }

    /// The same builder hashing with the replicas' shared secret.
    pub fn shared(mut self, hasher: SharedKeyHasher) -> Self {
        self.hasher = KeyHash::Shared(hasher);
        self
    }

    pub fn key(&self, input: &PolicyInput<'_>) -> KeyOutcome {
        match &self.hasher {
            KeyHash::Local(state) => self.key_with(input, state.build_hasher()),
            KeyHash::Shared(shared) => self.key_with(input, shared.hasher()),
        }
    }

    fn key_with(&self, input: &PolicyInput<'_>, mut h: impl Hasher) -> KeyOutcome {
        if self.per_route {
            h.write_u8(0xfe);
            input.route.hash(&mut h);
        }
        for part in &self.parts {
            let present = match part {
                KeyPart::ClientIp => {
                    self.hash_ip(input.client_ip.addr(), &mut h);
                    true
                }
                KeyPart::Route => {
                    h.write_u8(1);
                    input.route.hash(&mut h);
                    true
                }
                KeyPart::Host => {
                    h.write_u8(2);
                    input.host.hash(&mut h);
                    true
                }
                KeyPart::Header(name) => match input.headers.get(name) {
                    Some(value) => {
                        h.write_u8(3);
                        value.as_bytes().hash(&mut h);
                        true
                    }
                    None => false,
                },
                KeyPart::Query(name) => match query_param(input.query, name) {
                    Some(value) => {
                        h.write_u8(4);
                        value.hash(&mut h);
                        true
                    }
                    None => false,
                },
                KeyPart::Subject => match input.principal {
                    Some(p) => {
                        h.write_u8(5);
                        p.subject.hash(&mut h);
                        true
                    }
                    None => false,
                },
                KeyPart::ClientId => match input.principal.and_then(|p| p.key_id.as_deref()) {
                    Some(id) => {
                        h.write_u8(6);
                        id.hash(&mut h);
                        true
                    }
                    None => false,
                },
                KeyPart::Claim(path) => match input.principal.and_then(|p| p.claim(path)) {
                    Some(value) if !value.is_null() => {
                        h.write_u8(7);
                        hash_json(value, &mut h);
                        true
                    }
                    _ => false,
                },
            };
            if !present {
                match self.missing {
                    MissingKey::Skip => return KeyOutcome::Skip,
                    MissingKey::Reject => return KeyOutcome::Reject,
                    MissingKey::ClientIp => self.hash_ip(input.client_ip.addr(), &mut h),
                }
            }
        }
        KeyOutcome::Key(h.finish())
    }

    fn hash_ip(&self, ip: IpAddr, h: &mut impl Hasher) {
        match aggregate(ip, self.v4_prefix, self.v6_prefix) {
            IpAddr::V4(v4) => {
                h.write_u8(5);
                h.write_u32(u32::from(v4));
            }
            IpAddr::V6(v6) => {
                h.write_u8(6);
                h.write_u128(u128::from(v6));
            }
        }
    }
}

/// The address with its host bits cleared; IPv4-mapped IPv6 counts as IPv4.
pub fn aggregate(ip: IpAddr, v4_prefix: u8, v6_prefix: u8) -> IpAddr {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4_prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// The raw (not percent-decoded) value of the first `name=` parameter.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Hashes a claim value by its JSON text form (strings without quotes), so
/// `"acme"` and `acme` in two tokens key alike.
fn hash_json(value: &serde_json::Value, h: &mut impl Hasher) {
    match value {
        serde_json::Value::String(s) => s.hash(h),
        other => other.to_string().hash(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_aggregates_to_prefix() {
        let a = aggregate("2001:db8:1:2:aaaa::1".parse().unwrap(), 32, 64);
        let b = aggregate("2001:db8:1:2:bbbb::9".parse().unwrap(), 32, 64);
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let c = aggregate("::ffff:192.0.2.77".parse().unwrap(), 24, 64);
        assert_eq!(c, "192.0.2.0".parse::<IpAddr>().unwrap());
        let all = aggregate("192.0.2.77".parse().unwrap(), 0, 0);
        assert_eq!(all, "0.0.0.0".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param(Some("a=1&key=xyz&b"), "key"), Some("xyz"));
        assert_eq!(query_param(Some("b"), "b"), Some(""));
        assert_eq!(query_param(Some("keyx=1"), "key"), None);
        assert_eq!(query_param(None, "key"), None);
    }
}
