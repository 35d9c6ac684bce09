//! One authorization rule: declarative matchers for the common cases
//! (roles, scopes, claims, method, path, host, headers, client CIDR) and an
//! optional CEL expression for the rest. All set conditions must hold.

use std::sync::Arc;

use http::Method;
use ipnet::IpNet;
use serde_json::Value;

use crate::config::spec::FilterAction;
use crate::config::spec_authz::{AuthzRuleSpec, ClaimMatchSpec};
use crate::policy::PolicyInput;
use crate::policy::authz::cel::CelCondition;
use crate::route::value::HeaderMatcher;

#[derive(Debug)]
enum ClaimTest {
    Equals(Value),
    OneOf(Vec<Value>),
    Contains(Value),
    Present(bool),
}

#[derive(Debug)]
pub struct Rule {
    pub name: Arc<str>,
    pub action: FilterAction,
    authenticated: Option<bool>,
    roles: Vec<String>,
    scopes: Vec<String>,
    subjects: Vec<String>,
    auth_methods: Vec<String>,
    claims: Vec<(String, ClaimTest)>,
    methods: Vec<Method>,
    paths: Vec<String>,
    hosts: Vec<String>,
    headers: Vec<HeaderMatcher>,
    cidrs: Vec<IpNet>,
    cel: Option<CelCondition>,
}

fn claim_test(c: &ClaimMatchSpec) -> Result<ClaimTest, String> {
    let mut tests = Vec::new();
    if let Some(v) = &c.equals {
        tests.push(ClaimTest::Equals(v.clone()));
    }
    if !c.one_of.is_empty() {
        tests.push(ClaimTest::OneOf(c.one_of.clone()));
    }
    if let Some(v) = &c.contains {
        tests.push(ClaimTest::Contains(v.clone()));
    }
    if let Some(p) = c.present {
        tests.push(ClaimTest::Present(p));
    }
    match tests.len() {
        1 => Ok(tests.remove(0)),
        _ => Err(format!(
            "claim {:?}: exactly one of equals, one_of, contains, present",
            c.claim
        )),
    }
}

impl Rule {
    pub fn compile(spec: &AuthzRuleSpec) -> Result<Self, String> {
        let mut claims = Vec::with_capacity(spec.claims.len());
        for c in &spec.claims {
            claims.push((c.claim.clone(), claim_test(c)?));
        }
        let mut methods = Vec::with_capacity(spec.methods.len());
        for m in &spec.methods {
            methods.push(
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("invalid method {m:?}"))?,
            );
        }
        let mut cidrs = Vec::with_capacity(spec.client_cidrs.len());
        for c in &spec.client_cidrs {
            cidrs.push(crate::net::cidr_table::parse_cidr(c)?);
        }
        let mut headers = Vec::with_capacity(spec.headers.len());
        for h in &spec.headers {
            headers.push(HeaderMatcher::compile(h).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|(field, e)| format!("headers{field}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?);
        }
        let cel = spec.cel.as_deref().map(CelCondition::compile).transpose()?;
        Ok(Self {
            name: spec.name.as_str().into(),
            action: spec.action,
            authenticated: spec.authenticated,
            roles: spec.roles.clone(),
            scopes: spec.scopes.clone(),
            subjects: spec.subjects.clone(),
            auth_methods: spec.auth_methods.clone(),
            claims,
            methods,
            paths: spec.paths.clone(),
            hosts: spec.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            headers,
            cidrs,
            cel,
        })
    }

    pub fn reads_principal(&self) -> bool {
        self.authenticated == Some(true)
            || !self.roles.is_empty()
            || !self.scopes.is_empty()
            || !self.subjects.is_empty()
            || !self.auth_methods.is_empty()
            || !self.claims.is_empty()
            || self.cel.is_some()
    }

    /// Whether every condition holds; `Err` when the CEL expression fails.
    pub fn matches(&self, input: &PolicyInput<'_>) -> Result<bool, String> {
        let p = input.principal;
        if let Some(want) = self.authenticated
            && want != p.is_some()
        {
            return Ok(false);
        }
        let needs_principal = !self.roles.is_empty()
            || !self.scopes.is_empty()
            || !self.subjects.is_empty()
            || !self.auth_methods.is_empty()
            || !self.claims.is_empty();
        if needs_principal {
            let Some(p) = p else { return Ok(false) };
            if !self.roles.is_empty() && !self.roles.iter().any(|r| p.roles.contains(r)) {
                return Ok(false);
            }
            if !self.scopes.iter().all(|s| p.scopes.contains(s)) {
                return Ok(false);
            }
            if !self.subjects.is_empty() && !self.subjects.contains(&p.subject) {
                return Ok(false);
            }
            if !self.auth_methods.is_empty()
                && !self.auth_methods.iter().any(|m| m == p.method.as_str())
            {
                return Ok(false);
            }
            for (path, test) in &self.claims {
                if !claim_holds(p.claim(path), test) {
                    return Ok(false);
                }
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(input.method) {
            return Ok(false);
        }
        if !self.paths.is_empty()
            && !self
                .paths
                .iter()
                .any(|prefix| has_prefix(input.path, prefix))
        {
            return Ok(false);
        }
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| h == input.host) {
            return Ok(false);
        }
        if !self.headers.iter().all(|m| m.matches(input.headers)) {
            return Ok(false);
        }
        if !self.cidrs.is_empty() {
            let ip = input.client_ip.addr();
            if !self.cidrs.iter().any(|net| net.contains(&ip)) {
                return Ok(false);
            }
        }
        match &self.cel {
            Some(cel) => cel.evaluate(input),
            None => Ok(true),
        }
    }
}

/// Path prefix on segment boundaries: `/api` matches `/api` and `/api/x`.
fn has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn loose_eq(claim: &Value, want: &Value) -> bool {
    claim == want
        || match (claim, want) {
            // `"3"` in config against a numeric claim and vice versa.
            (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
                n.to_string() == *s
            }
            _ => false,
        }
}

fn claim_holds(claim: Option<&Value>, test: &ClaimTest) -> bool {
    let present = claim.is_some_and(|v| !v.is_null());
    match test {
        ClaimTest::Present(want) => present == *want,
        _ if !present => false,
        ClaimTest::Equals(want) => claim.is_some_and(|c| loose_eq(c, want)),
        ClaimTest::OneOf(list) => claim.is_some_and(|c| list.iter().any(|w| loose_eq(c, w))),
        ClaimTest::Contains(want) => match claim {
            Some(Value::Array(items)) => items.iter().any(|i| loose_eq(i, want)),
            Some(Value::String(s)) => match want {
                Value::String(w) => s.split_whitespace().any(|part| part == w),
                _ => false,
            },
            _ => false,
        },
    }
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
