//! Who the request is: the principal an authentication policy attaches to
//! the request context, read by authorization rules, claim-keyed rate limits,
//! header injection and the access log.

use std::sync::Arc;

/// How the principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Jwt,
    Oidc,
    Introspection,
    ApiKey,
    Basic,
    External,
    Mtls,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Jwt => "jwt",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Introspection => "introspection",
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Basic => "basic",
            AuthMethod::External => "external",
            AuthMethod::Mtls => "mtls",
        }
    }
}

/// An authenticated caller. Shared (`Arc`) because verified-token caches
/// hand the same principal to many requests.
#[derive(Debug, Clone)]
pub struct Principal {
    pub method: AuthMethod,
    /// The policy that authenticated it.
    pub policy: Arc<str>,
    /// `sub`, the API key's client id, the basic-auth user, the certificate subject.
    pub subject: String,
    pub issuer: Option<String>,
    /// OAuth client id / API key id / JWT `kid` (never the secret).
    pub key_id: Option<String>,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    /// All claims as JSON (an object; `Null` when the method has none).
    pub claims: serde_json::Value,
    /// The principal as a CEL value, built on first use by an
    /// authorization rule and shared by every request of this principal.
    pub cel_value: std::sync::OnceLock<cel::Value>,
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method
            && self.policy == other.policy
            && self.subject == other.subject
            && self.issuer == other.issuer
            && self.key_id == other.key_id
            && self.roles == other.roles
            && self.scopes == other.scopes
            && self.claims == other.claims
    }
}

impl Principal {
    pub fn new(method: AuthMethod, policy: Arc<str>, subject: impl Into<String>) -> Self {
        Self {
            method,
            policy,
            subject: subject.into(),
            issuer: None,
            key_id: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            claims: serde_json::Value::Null,
            cel_value: std::sync::OnceLock::new(),
        }
    }

    /// A claim by path: `a.b.c` walks nested objects, a number segment
    /// indexes arrays, and `["a.b"]`-free names containing dots are found
    /// when the whole remaining path is a key (`https://example.com/roles`).
    pub fn claim(&self, path: &str) -> Option<&serde_json::Value> {
        claim_path(&self.claims, path)
    }
}

/// Looks `path` up in `value`. At each level a key equal to the whole rest
/// of the path wins (names with dots, such as URL-shaped claim names), then
/// the segment up to the next dot.
pub fn claim_path<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if path.is_empty() {
        return Some(value);
    }
    match value {
        serde_json::Value::Object(map) => {
            if let Some(v) = map.get(path) {
                return Some(v);
            }
            // Longest key prefix first, so `a.b` as a key beats `a` then `b`.
            let mut split = path.len();
            while let Some(dot) = path[..split].rfind('.') {
                if let Some(v) = map.get(&path[..dot])
                    && let Some(found) = claim_path(v, &path[dot + 1..])
                {
                    return Some(found);
                }
                split = dot;
            }
            None
        }
        serde_json::Value::Array(items) => {
            let (head, rest) = path.split_once('.').unwrap_or((path, ""));
            let index: usize = head.parse().ok()?;
            claim_path(items.get(index)?, rest)
        }
        _ => None,
    }
}

/// A claim value as header text: strings as they are, arrays joined with
/// commas, numbers and booleans in JSON form; objects as compact JSON.
pub fn claim_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(claim_text).collect::<Vec<_>>().join(",")
        }
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths_walk_objects_arrays_and_dotted_names() {
        let claims = json!({
            "sub": "u1",
            "realm_access": {"roles": ["admin", "dev"]},
            "https://example.com/tenant": "acme",
            "org": {"a.b": {"c": 1}},
        });
        assert_eq!(claim_path(&claims, "sub"), Some(&json!("u1")));
        assert_eq!(
            claim_path(&claims, "realm_access.roles.1"),
            Some(&json!("dev"))
        );
        assert_eq!(
            claim_path(&claims, "https://example.com/tenant"),
            Some(&json!("acme"))
        );
        assert_eq!(claim_path(&claims, "org.a.b.c"), Some(&json!(1)));
        assert_eq!(claim_path(&claims, "realm_access.roles.9"), None);
        assert_eq!(claim_path(&claims, "nope.x"), None);
    }

    #[test]
    fn claim_text_forms() {
        assert_eq!(claim_text(&json!(["a", "b"])), "a,b");
        assert_eq!(claim_text(&json!(3)), "3");
        assert_eq!(claim_text(&json!({"k": true})), "{\"k\":true}");
    }
}
