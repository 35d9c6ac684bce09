//! The effective configuration as the admin API shows it: secrets replaced.
//!
//! Redaction is by field name, so a secret field added later (TLS keys,
//! JWT secrets) is hidden without touching this file as long as its name
//! says what it is.

use serde_json::Value;

use crate::config::spec::GatewayConfig;

const REDACTED: &str = "<redacted>";

/// Field-name fragments whose values are never shown.
const SECRET_NAMES: [&str; 6] = [
    "secret",
    "password",
    "token",
    "private",
    "credential",
    "key",
];

/// Field names containing "key" that are not secrets.
const NOT_SECRET: [&str; 2] = ["hash_key", "key_header"];

/// The config as JSON with every secret-looking value replaced.
pub fn redacted_config(config: &GatewayConfig) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    redact(&mut value);
    value
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                if is_secret(name) && !child.is_null() {
                    *child = Value::String(REDACTED.into());
                } else {
                    redact(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !NOT_SECRET.contains(&name.as_str()) && SECRET_NAMES.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_at_any_depth() {
        let mut v = json!({
            "admin": {"address": "127.0.0.1:1", "token_file": "/run/token"},
            "listeners": [{"tls": {"private_key": "PEM", "cert": "c"}}],
            "x": {"client_secret": "s", "hash_key": "header"},
        });
        redact(&mut v);
        assert_eq!(v["admin"]["token_file"], REDACTED);
        assert_eq!(v["admin"]["address"], "127.0.0.1:1");
        assert_eq!(v["listeners"][0]["tls"]["private_key"], REDACTED);
        assert_eq!(v["listeners"][0]["tls"]["cert"], "c");
        assert_eq!(v["x"]["client_secret"], REDACTED);
        assert_eq!(v["x"]["hash_key"], "header");
    }
}
