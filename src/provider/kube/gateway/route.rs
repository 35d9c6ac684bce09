//! One HTTPRoute's rules lowered into route matches and actions, before
//! hostnames are known (the listeners it attaches to decide those).
//!
//! Matches: path `Exact` / `PathPrefix` (segment semantics, a trailing `/`
//! ignored) / `RegularExpression`, headers and query parameters `Exact` or
//! `RegularExpression`, method; several matches in a rule are ORed (one
//! model route each). Filters: request and response header modifiers,
//! `RequestRedirect`, `URLRewrite`; any other filter makes its rule answer
//! 500 (fail closed) and is reported. `backendRefs`: Services (by port
//! number), weighted; an invalid one answers 500.

use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::networking::v1::{IngressServiceBackend, ServiceBackendPort};
use serde_json::{Map, Value, json};

use crate::provider::ObjectRef;
use crate::provider::kube::annotations::IngressSettings;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::GROUP;
use crate::provider::kube::gateway::conditions::Cond;
use crate::provider::kube::gateway::refs::{self, RefKind};
use crate::provider::kube::ingress::{self, BackendError, Context};
use crate::provider::kube::report::{Outcome, Report};

/// One match of a rule: what it claims and its `match` (without hosts).
#[derive(Debug, Clone)]
pub struct MatchModel {
    pub kind: &'static str,
    pub value: String,
    /// Conditions besides the path, so rules that differ only in headers,
    /// query or method claim different keys.
    pub conditions: String,
    pub spec: Value,
}

#[derive(Debug, Clone)]
pub struct RuleModel {
    pub index: usize,
    pub matches: Vec<MatchModel>,
    /// Fields merged into each route: backend(s) or an answer, filters,
    /// timeouts.
    pub action: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Rules {
    pub rules: Vec<RuleModel>,
    /// `ResolvedRefs` for every parent of the route.
    pub resolved: Cond,
    /// Rules answering 500 because of what is not supported, and why.
    pub unsupported: Vec<String>,
}

/// Lowers the rules of `route`; backends go into `out`.
pub fn translate(
    object: &ObjectRef,
    route: &HttpRoute,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
) -> Rules {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let mut unsupported = Vec::new();
    let mut rules = Vec::new();
    for (r, rule) in route.spec.rules.iter().flatten().enumerate() {
        let subject = format!("spec.rules[{r}]");
        let mut action = Map::new();
        let mut unsupported_here = Vec::new();
        // Filters of the rule, then those of a single backendRef (with one
        // backend they are the same thing); per-backend filters with
        // several backends cannot be expressed.
        let mut filters: Vec<Value> = rule
            .filters
            .iter()
            .flatten()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect();
        let backend_refs = rule.backend_refs.as_deref().unwrap_or_default();
        let with_filters = backend_refs
            .iter()
            .filter(|b| b.filters.as_ref().is_some_and(|f| !f.is_empty()))
            .count();
        if backend_refs.len() == 1 {
            filters.extend(
                backend_refs[0]
                    .filters
                    .iter()
                    .flatten()
                    .filter_map(|f| serde_json::to_value(f).ok()),
            );
        } else if with_filters > 0 {
            unsupported_here.push("filters on one of several backendRefs".to_owned());
        }
        let mut redirect = None;
        for filter in &filters {
            apply_filter(filter, &mut action, &mut redirect, &mut unsupported_here);
        }
        let matches = rule_matches(rule.matches.as_deref().unwrap_or_default());
        if let Some(timeouts) = &rule.timeouts {
            let mut t = Map::new();
            for (field, value) in [
                ("request", &timeouts.request),
                ("backend_request", &timeouts.backend_request),
            ] {
                let Some(value) = value else { continue };
                match humantime::parse_duration(value) {
                    Ok(d) if d.is_zero() => {} // 0s disables the timeout
                    Ok(_) => {
                        t.insert(field.into(), json!(value));
                    }
                    Err(e) => report.push(
                        object,
                        format!("{subject}.timeouts"),
                        Outcome::NotConverted,
                        format!("{value:?}: {e}; ignored"),
                    ),
                }
            }
            if !t.is_empty() {
                action.insert("timeouts".into(), Value::Object(t));
            }
        }
        if !unsupported_here.is_empty() {
            let why = unsupported_here.join(", ");
            report.push(
                object,
                subject.clone(),
                Outcome::NotConverted,
                format!("{why} not supported; the rule answers 500"),
            );
            unsupported.push(format!("rule {r}: {why}"));
            let mut answer = Map::new();
            answer.insert(
                "direct_response".into(),
                json!({"status": 500, "body": "route not supported\n"}),
            );
            rules.push(RuleModel {
                index: r,
                matches,
                action: answer,
            });
            continue;
        }
        if let Some(redirect) = redirect {
            // The redirect is the answer: backendRefs are not used.
            action.remove("request_headers");
            action.remove("rewrite");
            action.remove("timeouts");
            action.insert("redirect".into(), redirect);
        } else {
            let answer = backends(object, route, r, context, out, report, &mut problems);
            action.extend(answer);
        }
        rules.push(RuleModel {
            index: r,
            matches,
            action,
        });
    }
    let resolved = match problems.first() {
        None => Cond::yes("ResolvedRefs", "ResolvedRefs", "all references resolved"),
        Some((reason, _)) => {
            let message: Vec<String> = problems.iter().map(|(_, m)| m.clone()).collect();
            Cond::no("ResolvedRefs", reason, message.join("; "))
        }
    };
    Rules {
        rules,
        resolved,
        unsupported,
    }
}

fn rule_matches(matches: &[gateway_api::httproutes::HttpRouteRulesMatches]) -> Vec<MatchModel> {
    use gateway_api::httproutes::{
        HttpRouteRulesMatchesHeadersType as H, HttpRouteRulesMatchesPathType as P,
        HttpRouteRulesMatchesQueryParamsType as Q,
    };
    if matches.is_empty() {
        return vec![MatchModel {
            kind: "prefix",
            value: "/".into(),
            conditions: String::new(),
            spec: json!({"path": {"prefix": "/"}}),
        }];
    }
    matches
        .iter()
        .map(|m| {
            let raw = m
                .path
                .as_ref()
                .and_then(|p| p.value.clone())
                .unwrap_or_else(|| "/".into());
            let (kind, value) = match m.path.as_ref().and_then(|p| p.r#type.as_ref()) {
                Some(P::Exact) => ("exact", raw),
                Some(P::RegularExpression) => ("regex", raw),
                Some(P::PathPrefix) | None => {
                    let trimmed = raw.trim_end_matches('/');
                    (
                        "prefix",
                        if trimmed.is_empty() {
                            "/".into()
                        } else {
                            trimmed.to_owned()
                        },
                    )
                }
            };
            let mut spec = json!({"path": {kind: value}});
            let headers: Vec<Value> = m
                .headers
                .iter()
                .flatten()
                .map(|h| match h.r#type {
                    Some(H::RegularExpression) => json!({"name": h.name, "regex": h.value}),
                    Some(H::Exact) | None => json!({"name": h.name, "exact": h.value}),
                })
                .collect();
            let query: Vec<Value> = m
                .query_params
                .iter()
                .flatten()
                .map(|q| match q.r#type {
                    Some(Q::RegularExpression) => json!({"name": q.name, "regex": q.value}),
                    Some(Q::Exact) | None => json!({"name": q.name, "exact": q.value}),
                })
                .collect();
            let methods: Vec<Value> = m
                .method
                .iter()
                .filter_map(|m| serde_json::to_value(m).ok())
                .collect();
            if !headers.is_empty() {
                spec["headers"] = json!(headers);
            }
            if !query.is_empty() {
                spec["query"] = json!(query);
            }
            if !methods.is_empty() {
                spec["methods"] = json!(methods);
            }
            let conditions = json!({"h": headers, "q": query, "m": methods}).to_string();
            MatchModel {
                kind,
                value,
                conditions,
                spec,
            }
        })
        .collect()
}

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
fn apply_filter(
    filter: &Value,
    action: &mut Map<String, Value>,
    redirect: &mut Option<Value>,
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
        other => unsupported.push(format!("filter {other}")),
    }
}

/// The backend fields of rule `r`: `backend`, weighted `backends`, or a
/// 500 when no backendRef resolves (503 when they resolve to Services
/// without ready endpoints).
fn backends(
    object: &ObjectRef,
    route: &HttpRoute,
    r: usize,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
    problems: &mut Vec<(&'static str, String)>,
) -> Map<String, Value> {
    let namespace = object.namespace.as_str();
    let refs_ = route
        .spec
        .rules
        .as_ref()
        .and_then(|rules| rules.get(r))
        .and_then(|rule| rule.backend_refs.as_deref())
        .unwrap_or_default();
    let mut valid: Vec<(String, u32)> = Vec::new();
    let mut lost = 0u32;
    let mut unavailable = 0u32;
    for (b, backend) in refs_.iter().enumerate() {
        let subject = format!("spec.rules[{r}].backendRefs[{b}]");
        let weight = u32::try_from(backend.weight.unwrap_or(1)).unwrap_or(0);
        let group = backend.group.as_deref().unwrap_or("");
        let kind = backend.kind.as_deref().unwrap_or("Service");
        let target_ns = backend.namespace.as_deref().unwrap_or(namespace);
        let problem = if !group.is_empty() || kind != "Service" {
            Some((
                "InvalidKind",
                format!("{subject}: {group}/{kind} is not a Service"),
            ))
        } else if !refs::permitted(
            context.index,
            RefKind {
                group: GROUP,
                kind: "HTTPRoute",
            },
            namespace,
            RefKind {
                group: "",
                kind: "Service",
            },
            target_ns,
            &backend.name,
        ) {
            Some((
                "RefNotPermitted",
                format!(
                    "{subject}: no ReferenceGrant in {target_ns} lets this route use Service {}",
                    backend.name
                ),
            ))
        } else if backend.port.is_none() {
            Some((
                "BackendNotFound",
                format!("{subject}: a Service needs a port"),
            ))
        } else {
            let service = IngressServiceBackend {
                name: backend.name.clone(),
                port: Some(ServiceBackendPort {
                    number: backend.port,
                    name: None,
                }),
            };
            let owner = format!("httproute.{namespace}.{}", object.name);
            match ingress::service_backend_in(
                &owner,
                target_ns,
                &service,
                &IngressSettings::default(),
                context,
            ) {
                Ok(spec) => {
                    valid.push((spec.name.clone(), weight));
                    out.add_backend(object, spec);
                    None
                }
                Err(BackendError::NoEndpoints(why)) => {
                    report.push(
                        object,
                        subject.clone(),
                        Outcome::Skipped,
                        format!("{why}; its share answers 503"),
                    );
                    unavailable += weight;
                    None
                }
                Err(BackendError::NotFound(why) | BackendError::Invalid(why)) => {
                    Some(("BackendNotFound", format!("{subject}: {why}")))
                }
            }
        };
        if let Some((reason, message)) = problem {
            report.push(
                object,
                subject,
                Outcome::Skipped,
                format!("{message}; its share answers 500"),
            );
            problems.push((reason, message));
            lost += weight;
        }
    }
    let mut action = Map::new();
    let served: u32 = valid.iter().map(|(_, w)| w).sum();
    if served == 0 {
        let (status, body) = if unavailable > 0 && lost == 0 {
            (503, "backend unavailable\n")
        } else {
            (500, "no valid backend\n")
        };
        action.insert(
            "direct_response".into(),
            json!({"status": status, "body": body}),
        );
        return action;
    }
    if lost > 0 || unavailable > 0 {
        report.push(
            object,
            format!("spec.rules[{r}].backendRefs"),
            Outcome::Approximated,
            "the share of the backends that cannot serve goes to the others (the spec asks for 500 on it)",
        );
    }
    let valid: Vec<(String, u32)> = valid.into_iter().filter(|(_, w)| *w > 0).collect();
    if valid.len() == 1 {
        action.insert("backend".into(), json!(valid[0].0));
    } else {
        let split: Vec<Value> = valid
            .iter()
            .map(|(name, weight)| json!({"name": name, "weight": weight}))
            .collect();
        action.insert("backends".into(), json!(split));
    }
    action
}
