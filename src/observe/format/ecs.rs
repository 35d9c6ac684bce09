//! The access record as Elastic Common Schema (ECS 8.x) JSON, so Elastic and
//! other ECS-aware SIEMs index it without an ingest pipeline. Fields without
//! an ECS home live under `portcullis.*`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::observe::access_log::{AccessRecord, version_name};

pub const ECS_VERSION: &str = "8.11.0";

/// Writes one ECS JSON object (no newline); false if serialisation failed.
pub fn write(record: &AccessRecord, duration: Duration, buf: &mut Vec<u8>) -> bool {
    let facts = &record.facts;
    let outcome = if record.status >= 400 || record.body_error {
        "failure"
    } else {
        "success"
    };
    let mut event = json!({
        "kind": "event",
        "category": ["web", "network"],
        "type": ["access"],
        "outcome": outcome,
        "dataset": "portcullis.access",
        "duration": u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
    });
    if let Some(reason) = record.reason {
        event["reason"] = reason.into();
    }
    let client_ip = record.client_ip.map(|ip| ip.to_string());
    let mut source = json!({"ip": client_ip});
    if let Some(port) = record.client_port() {
        source["port"] = port.into();
    }
    let mut request = json!({
        "id": record.request_id.to_str().unwrap_or("-"),
        "method": record.method.as_str(),
    });
    if let Some(n) = facts.request_bytes {
        request["bytes"] = n.into();
    }
    if let Some(r) = &facts.referer {
        request["referrer"] = r.as_str().into();
    }
    if !facts.headers.is_empty() {
        let headers: Map<String, Value> = facts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
            .collect();
        request["headers"] = Value::Object(headers);
    }
    let version = version_name(record.version)
        .strip_prefix("HTTP/")
        .unwrap_or("?");
    let mut url = json!({
        "path": record.path,
        "domain": record.host,
        "scheme": facts.scheme,
    });
    if let Some(q) = &facts.query {
        url["query"] = q.as_str().into();
    }
    let mut doc = json!({
        "@timestamp": humantime::format_rfc3339_micros(record.time).to_string(),
        "ecs": {"version": ECS_VERSION},
        "event": event,
        "source": source,
        "client": {"ip": client_ip},
        "http": {
            "version": version,
            "request": request,
            "response": {"status_code": record.status, "bytes": record.bytes_sent},
        },
        "url": url,
        "trace": {"id": facts.trace.trace_id_hex()},
        "span": {"id": facts.trace.span_id_hex()},
        "portcullis": {
            "listener": &*record.listener,
            "peer": record.peer.0.to_string(),
            "route": record.route.as_deref(),
            "upstream": record.upstream.map(|a| a.to_string()),
            "upstream_ms": record.upstream_ms,
            "aborted": record.body_error,
        },
    });
    if let Some(ua) = &facts.user_agent {
        doc["user_agent"] = json!({"original": ua});
    }
    if let Some(policy) = &record.policy {
        doc["rule"] = json!({"name": &**policy});
        if let Some(rule) = &record.rule {
            doc["rule"]["id"] = json!(&**rule);
        }
    }
    if record.under_attack {
        doc["portcullis"]["under_attack"] = json!(true);
    }
    if let Some(waf) = &record.waf {
        doc["portcullis"]["waf"] = json!(waf);
        if doc.get("rule").is_none() {
            doc["rule"] = json!({"name": &*waf.policy});
        }
        doc["rule"]["ruleset"] = json!("waf");
    }
    if let Some(p) = &record.principal {
        let mut user = json!({"name": p.subject, "roles": p.roles});
        if let Some(id) = &p.key_id {
            user["id"] = json!(id);
        }
        doc["user"] = user;
        doc["portcullis"]["auth"] = json!({"method": p.method.as_str(), "issuer": p.issuer});
    }
    if let Some(tls) = &record.tls {
        let mut t = json!({
            "version_protocol": "tls",
            "version": tls.version.trim_start_matches("TLSv"),
            "cipher": tls.cipher,
        });
        if let Some(sni) = &tls.sni {
            t["client"] = json!({"server_name": sni});
        }
        if let Some(cert) = &tls.client {
            t["client"]["subject"] = cert.subject.as_str().into();
        }
        doc["tls"] = t;
    }
    if let Some(upstream) = record.upstream {
        doc["destination"] = json!({"ip": upstream.ip().to_string(), "port": upstream.port()});
    }
    serde_json::to_writer(buf, &doc).is_ok()
}
