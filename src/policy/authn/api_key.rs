//! `api_key`: static API keys, stored only as SHA-256 hashes. The presented
//! key is hashed and looked up by its digest, so neither the lookup nor any
//! comparison runs on the secret itself; the digest match is then
//! confirmed with a constant-time comparison.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use crate::config::spec_api_key::{ApiKeyEntrySpec, ApiKeySpec};
use crate::policy::authn::token::{self, TokenSource};
use crate::policy::principal::{AuthMethod, Principal};
use crate::policy::{PolicyInput, RequestContext};

type Digest = [u8; 32];

#[derive(Debug)]
pub struct ApiKey {
    pub spec: ApiKeySpec,
    sources: Vec<TokenSource>,
    keys: HashMap<Digest, Arc<Principal>>,
    client_id_header: Option<HeaderName>,
}

/// What the policy found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    Failed(&'static str),
}

/// Parses `sha256:<hex>`.
pub fn parse_hash(text: &str) -> Result<Digest, String> {
    let hex = text
        .strip_prefix("sha256:")
        .ok_or_else(|| "hash must be `sha256:<64 hex digits>`".to_owned())?;
    if hex.len() != 64 {
        return Err("hash must be `sha256:<64 hex digits>`".to_owned());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| "hash must be `sha256:<64 hex digits>`".to_owned())?;
    }
    Ok(out)
}

fn digest(key: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The entries of a keys file (a YAML or JSON list).
pub fn read_keys_file(path: &str) -> Result<Vec<ApiKeyEntrySpec>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .map_err(|e| format!("{path}: not YAML: {e}"))?;
    let Some(doc) = docs.first() else {
        return Ok(Vec::new());
    };
    let yaml_rust2::Yaml::Array(items) = doc else {
        return Err(format!(
            "{path}: expected a list of {{client_id, hash, roles}}"
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| item[name].as_str().map(str::to_owned);
        let (Some(client_id), Some(hash)) = (field("client_id"), field("hash")) else {
            return Err(format!("{path}: entry {i} needs client_id and hash"));
        };
        let roles = match &item["roles"] {
            yaml_rust2::Yaml::Array(r) => r
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        out.push(ApiKeyEntrySpec {
            client_id,
            hash,
            roles,
        });
    }
    Ok(out)
}

impl ApiKey {
    pub fn compile(policy: &str, spec: &ApiKeySpec) -> Result<Self, String> {
        let mut entries = spec.keys.clone();
        if let Some(path) = &spec.keys_file {
            entries.extend(read_keys_file(path)?);
        }
        if entries.is_empty() {
            return Err("no keys: set keys or keys_file".to_owned());
        }
        let mut keys = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let hash = parse_hash(&e.hash).map_err(|m| format!("keys[{i}].hash: {m}"))?;
            let mut p = Principal::new(AuthMethod::ApiKey, Arc::from(policy), e.client_id.clone());
            p.key_id = Some(e.client_id.clone());
            p.roles = e.roles.clone();
            if keys.insert(hash, Arc::new(p)).is_some() {
                return Err(format!("keys[{i}]: the same key is listed twice"));
            }
        }
        let mut sources = Vec::with_capacity(spec.from.len());
        for (i, s) in spec.from.iter().enumerate() {
            sources.push(TokenSource::compile(s).map_err(|e| format!("from[{i}]: {e}"))?);
        }
        let client_id_header = spec
            .client_id_header
            .as_deref()
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| "client_id_header: invalid header name".to_owned())
            })
            .transpose()?;
        Ok(Self {
            spec: spec.clone(),
            sources,
            keys,
            client_id_header,
        })
    }

    pub fn authenticate(&self, input: &PolicyInput<'_>, ctx: &mut RequestContext) -> Outcome {
        if let Some(name) = &self.client_id_header {
            ctx.upstream_headers.remove(name.clone());
        }
        let Some((source, key)) = token::first(&self.sources, input.headers, input.query) else {
            return Outcome::Failed("api_key_missing");
        };
        let presented = digest(key.as_bytes());
        let Some((stored, principal)) = self.keys.get_key_value(&presented) else {
            return Outcome::Failed("api_key_invalid");
        };
        // The map compared digests; confirm in constant time all the same.
        #[allow(deprecated)]
        if ring::constant_time::verify_slices_are_equal(stored, &presented).is_err() {
            return Outcome::Failed("api_key_invalid");
        }
        if self.spec.strip_key {
            source.strip(&mut ctx.upstream_headers);
        }
        if let (Some(name), Some(id)) = (&self.client_id_header, &principal.key_id)
            && let Ok(value) = HeaderValue::from_str(id)
        {
            ctx.upstream_headers.set(name.clone(), value);
        }
        Outcome::Authenticated(Arc::clone(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::client_ip::ClientIp;

    fn hash_of(key: &str) -> String {
        let d = digest(key.as_bytes());
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    fn run(policy: &ApiKey, key: Option<&str>) -> (Outcome, RequestContext) {
        let mut headers = http::HeaderMap::new();
        if let Some(k) = key {
            headers.insert("x-api-key", k.parse().unwrap());
        }
        headers.insert("x-client", "spoofed".parse().unwrap());
        let input = PolicyInput {
            client_ip: ClientIp::from_trusted_source("127.0.0.1".parse().unwrap()),
            client_cert: None,
            method: &http::Method::GET,
            host: "h",
            path: "/",
            query: None,
            target: "/",
            version: http::Version::HTTP_11,
            headers: &headers,
            route: "r",
            principal: None,
        };
        let mut ctx = RequestContext::default();
        (policy.authenticate(&input, &mut ctx), ctx)
    }

    #[test]
    fn keys_by_hash_with_roles() {
        let spec: ApiKeySpec = serde_json::from_value(serde_json::json!({
            "keys": [{"client_id": "ci", "hash": hash_of("s3cret"), "roles": ["deploy"]}],
            "client_id_header": "x-client",
        }))
        .unwrap();
        let policy = ApiKey::compile("keys", &spec).unwrap();
        let (outcome, ctx) = run(&policy, Some("s3cret"));
        let Outcome::Authenticated(p) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(p.subject, "ci");
        assert_eq!(p.roles, vec!["deploy"]);
        let mut up = http::HeaderMap::new();
        up.insert("x-api-key", "s3cret".parse().unwrap());
        up.insert("x-client", "spoofed".parse().unwrap());
        ctx.upstream_headers.apply(&mut up);
        assert!(!up.contains_key("x-api-key"), "key stripped");
        assert_eq!(up["x-client"], "ci");
        assert_eq!(
            run(&policy, Some("wrong")).0,
            Outcome::Failed("api_key_invalid")
        );
        assert_eq!(run(&policy, None).0, Outcome::Failed("api_key_missing"));
    }

    #[test]
    fn bad_hashes_are_refused() {
        for hash in ["md5:abc", "sha256:xyz", "sha256:00"] {
            assert!(parse_hash(hash).is_err(), "{hash}");
        }
    }
}
