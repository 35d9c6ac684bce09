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
use serde_json::{Map, Value, json};

use crate::provider::ObjectRef;
use crate::provider::kube::builder::Builder;
use crate::provider::kube::gateway::conditions::Cond;
use crate::provider::kube::gateway::{backends, filters};
use crate::provider::kube::ingress::Context;
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
        let mut mirror = None;
        for filter in &filters {
            filters::apply_filter(
                filter,
                &mut action,
                &mut redirect,
                &mut mirror,
                &mut unsupported_here,
            );
        }
        if let Some(m) = mirror {
            let subject = format!("{subject}.filters.requestMirror");
            if let Some(spec) =
                mirror_spec(object, &m, &subject, context, out, report, &mut problems)
            {
                action.insert("mirror".into(), spec);
            }
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
            let answer = backends::backends(object, route, r, context, out, report, &mut problems);
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

/// A rule's `RequestMirror` as the route's `mirror`, when its backendRef
/// resolves (else `ResolvedRefs` says why and nothing is mirrored).
fn mirror_spec(
    object: &ObjectRef,
    m: &Value,
    subject: &str,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
    problems: &mut Vec<(&'static str, String)>,
) -> Option<Value> {
    let b = &m["backendRef"];
    let target = backends::Ref {
        group: b["group"].as_str().unwrap_or(""),
        kind: b["kind"].as_str().unwrap_or("Service"),
        namespace: b["namespace"].as_str().unwrap_or(&object.namespace),
        name: b["name"].as_str().unwrap_or_default(),
        port: b["port"].as_i64().and_then(|p| i32::try_from(p).ok()),
    };
    // `percent`, or `fraction` (numerator / denominator, default 100).
    let percent = match (m["percent"].as_u64(), m["fraction"]["numerator"].as_u64()) {
        (Some(p), _) => p,
        (None, Some(n)) => {
            let d = m["fraction"]["denominator"].as_u64().unwrap_or(100).max(1);
            n.saturating_mul(100).div_ceil(d)
        }
        (None, None) => 100,
    };
    if percent == 0 {
        return None;
    }
    match backends::resolve(object, &target, subject, context, out) {
        backends::Resolved::Backend(name) => {
            Some(json!({"backend": name, "percent": percent.min(100)}))
        }
        backends::Resolved::NoEndpoints(why) => {
            report.push(
                object,
                subject,
                Outcome::Skipped,
                format!("{why}; nothing is mirrored"),
            );
            None
        }
        backends::Resolved::Problem(reason, message) => {
            report.push(
                object,
                subject,
                Outcome::Skipped,
                format!("{message}; nothing is mirrored"),
            );
            problems.push((reason, message));
            None
        }
    }
}
