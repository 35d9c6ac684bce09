//! HTTPRoute filters (as the API's JSON, so rule-level and backend-level
//! filters share one path) onto the route's own features: header
//! modifiers, redirect, URL rewrite, mirror. Anything else is named as
//! unsupported.

use serde_json::{Map, Value, json};

/// A literal Gateway API header value: `$` is not a template here.
fn literal(value: &Value) -> Value {
    json!(value.as_str().unwrap_or_default().replace('$', "$$"))
}

fn header_modifier(spec: &Value) -> Value {
    let pairs = |field: &str| -> Vec<Value> {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json!({"name": p["name"], "value": literal(&p["value"])}))
            .collect()
    };
    let remove: Vec<Value> = spec["remove"].as_array().cloned().unwrap_or_default();
    json!({"set": pairs("set"), "add": pairs("add"), "remove": remove})
}

fn path_modifier(spec: &Value) -> Option<Value> {
    match spec["type"].as_str() {
        Some("ReplaceFullPath") => Some(json!({"replace_full_path": spec["replaceFullPath"]})),
        Some("ReplacePrefixMatch") => {
            Some(json!({"replace_prefix_match": spec["replacePrefixMatch"]}))
        }
        _ => None,
    }
}

/// One filter (as the API's JSON) into the route's fields.
pub fn apply_filter(
    filter: &Value,
    action: &mut Map<String, Value>,
    redirect: &mut Option<Value>,
    mirror: &mut Option<Value>,
    unsupported: &mut Vec<String>,
) {
    let kind = filter["type"].as_str().unwrap_or_default();
    let field = |action: &mut Map<String, Value>, name: &str, value: Value, u: &mut Vec<String>| {
        if action.insert(name.into(), value).is_some() {
            u.push(format!("two {kind} filters"));
        }
    };
    match kind {
        "RequestHeaderModifier" => field(
            action,
            "request_headers",
            header_modifier(&filter["requestHeaderModifier"]),
            unsupported,
        ),
        "ResponseHeaderModifier" => field(
            action,
            "response_headers",
            header_modifier(&filter["responseHeaderModifier"]),
            unsupported,
        ),
        "URLRewrite" => {
            let spec = &filter["urlRewrite"];
            let mut rewrite = Map::new();
            if let Some(host) = spec["hostname"].as_str() {
                rewrite.insert("hostname".into(), json!(host));
            }
            if let Some(path) = path_modifier(&spec["path"]) {
                rewrite.insert("path".into(), path);
            }
            field(action, "rewrite", Value::Object(rewrite), unsupported);
        }
        "RequestRedirect" => {
            let spec = &filter["requestRedirect"];
            let mut out = Map::new();
            if let Some(scheme) = spec["scheme"].as_str() {
                out.insert("scheme".into(), json!(scheme));
                // The spec: without a port, the scheme's well-known port.
                if spec["port"].is_null() {
                    let port = if scheme == "https" { 443 } else { 80 };
                    out.insert("port".into(), json!(port));
                }
            }
            if let Some(host) = spec["hostname"].as_str() {
                out.insert("hostname".into(), json!(host));
            }
            if let Some(port) = spec["port"].as_u64() {
                out.insert("port".into(), json!(port));
            }
            if let Some(path) = path_modifier(&spec["path"]) {
                out.insert("path".into(), path);
            }
            if let Some(code) = spec["statusCode"].as_u64() {
                out.insert("status_code".into(), json!(code));
            }
            if redirect.replace(Value::Object(out)).is_some() {
                unsupported.push("two RequestRedirect filters".into());
            }
        }
        // Resolved by the caller (it names a Service); one per rule.
        "RequestMirror" => {
            if mirror.replace(filter["requestMirror"].clone()).is_some() {
                unsupported.push("several RequestMirror filters".into());
            }
        }
        other => unsupported.push(format!("filter {other}")),
    }
}
