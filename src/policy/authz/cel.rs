//! CEL conditions for authorization rules. Programs are compiled at load;
//! one root context per policy holds the functions (built once: building
//! one costs tens of µs), and each evaluation adds the request's variables
//! in a cheap child scope. `matches()` is our own, with compiled regexes
//! kept per policy, because the library's recompiles the pattern on every
//! call.
//!
//! Variables: `request` (`method`, `path`, `host`, `query`, `headers` with
//! lower-case names), `source` (`ip`), `principal` (`authenticated`,
//! `subject`, `issuer`, `method`, `client_id`, `roles`, `scopes`,
//! `claims`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cel::extractors::This;
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, Program, Value};

use crate::policy::PolicyInput;
use crate::policy::principal::Principal;

/// Compiled patterns kept at most (patterns are config literals; a pattern
/// built from request data past this bound is compiled each time).
const MAX_PATTERNS: usize = 256;

type Patterns = Arc<Mutex<HashMap<String, regex::Regex>>>;

/// A compiled CEL condition with its root context.
pub struct CelCondition {
    program: Program,
    root: Context<'static, 'static>,
    source: String,
    /// Which variables the expression reads, so an evaluation builds only
    /// those (the header map is the costly part of `request`).
    uses: Uses,
}

#[derive(Debug, Clone, Copy)]
struct Uses {
    request: bool,
    headers: bool,
    source: bool,
    principal: bool,
}

impl std::fmt::Debug for CelCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelCondition")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn matches(patterns: &Patterns, text: &str, pattern: &str) -> Result<bool, ExecutionError> {
    if let Ok(cache) = patterns.lock()
        && let Some(re) = cache.get(pattern)
    {
        return Ok(re.is_match(text));
    }
    let re = regex::Regex::new(pattern).map_err(|e| ExecutionError::FunctionError {
        function: "matches".to_owned(),
        message: format!("{pattern:?} is not a valid regex: {e}"),
    })?;
    let hit = re.is_match(text);
    if let Ok(mut cache) = patterns.lock()
        && cache.len() < MAX_PATTERNS
    {
        cache.insert(pattern.to_owned(), re);
    }
    Ok(hit)
}

impl CelCondition {
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|e| format!("CEL syntax: {e}"))?;
        let mut root = Context::default();
        let patterns: Patterns = Arc::default();
        root.add_function(
            "matches",
            move |This(text): This<Arc<String>>, pattern: Arc<String>| {
                matches(&patterns, &text, &pattern)
            },
        )
        .map_err(|e| format!("CEL: {e:?}"))?;
        let refs = program.references();
        let uses = Uses {
            request: refs.has_variable("request"),
            // Any way of reaching the header map names it in the source.
            headers: source.contains("headers"),
            source: refs.has_variable("source"),
            principal: refs.has_variable("principal"),
        };
        Ok(Self {
            program,
            root,
            source: source.to_owned(),
            uses,
        })
    }

    /// Evaluates to `Ok(true/false)`; an error, or a result that is not a
    /// boolean, is `Err` (the caller fails closed).
    pub fn evaluate(&self, input: &PolicyInput<'_>) -> Result<bool, String> {
        let mut ctx = self.root.new_inner_scope();
        if self.uses.request {
            ctx.add_variable_from_value("request", request_value(input, self.uses.headers));
        }
        if self.uses.source {
            ctx.add_variable_from_value("source", source_value(input));
        }
        if self.uses.principal {
            ctx.add_variable_from_value("principal", principal_value(input.principal));
        }
        match self.program.execute(&ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("CEL result is not a boolean: {other:?}")),
            Err(e) => Err(format!("CEL evaluation: {e}")),
        }
    }
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

fn map(entries: Vec<(&'static str, Value)>) -> Value {
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

fn request_value(input: &PolicyInput<'_>, with_headers: bool) -> Value {
    let mut headers: HashMap<Key, Value> = HashMap::new();
    for name in input.headers.keys().filter(|_| with_headers) {
        // Several values of one name are joined as HTTP does.
        let joined = input
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(
            Key::String(Arc::new(name.as_str().to_owned())),
            string(&joined),
        );
    }
    map(vec![
        ("method", string(input.method.as_str())),
        ("path", string(input.path)),
        ("host", string(input.host)),
        ("query", string(input.query.unwrap_or(""))),
        (
            "headers",
            Value::Map(Map {
                map: Arc::new(headers),
            }),
        ),
    ])
}

fn source_value(input: &PolicyInput<'_>) -> Value {
    map(vec![("ip", string(&input.client_ip.to_string()))])
}

fn list(items: &[String]) -> Value {
    Value::List(Arc::new(items.iter().map(|s| string(s)).collect()))
}

/// The principal as CEL sees it; the claims are converted once per
/// principal (a cached token's principal is shared by its requests).
fn principal_value(principal: Option<&Principal>) -> Value {
    let Some(p) = principal else {
        return map(vec![
            ("authenticated", Value::Bool(false)),
            ("subject", string("")),
            ("roles", Value::List(Arc::new(Vec::new()))),
            ("scopes", Value::List(Arc::new(Vec::new()))),
            ("claims", map(Vec::new())),
        ]);
    };
    p.cel_value
        .get_or_init(|| {
            let claims = cel::to_value(&p.claims).unwrap_or(Value::Null);
            let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, string);
            map(vec![
                ("authenticated", Value::Bool(true)),
                ("subject", string(&p.subject)),
                ("issuer", opt(&p.issuer)),
                ("method", string(p.method.as_str())),
                ("client_id", opt(&p.key_id)),
                ("roles", list(&p.roles)),
                ("scopes", list(&p.scopes)),
                ("claims", claims),
            ])
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::client_ip::ClientIp;
    use crate::policy::principal::AuthMethod;

    fn eval(expr: &str, principal: Option<&Principal>) -> Result<bool, String> {
        let headers = {
            let mut h = http::HeaderMap::new();
            h.insert("x-team", "blue".parse().unwrap());
            h
        };
        let input = PolicyInput {
            client_ip: ClientIp::from_trusted_source("10.1.2.3".parse().unwrap()),
            client_cert: None,
            method: &http::Method::POST,
            host: "api.example",
            path: "/admin/users",
            query: Some("a=1"),
            target: "/",
            version: http::Version::HTTP_11,
            headers: &headers,
            route: "r",
            principal,
        };
        CelCondition::compile(expr)?.evaluate(&input)
    }

    #[test]
    fn request_principal_and_regex() {
        let mut p = Principal::new(AuthMethod::Jwt, "jwt".into(), "alice");
        p.roles = vec!["admin".into()];
        p.claims = serde_json::json!({"tenant": "acme", "tier": 3});
        assert_eq!(
            eval(
                "request.method == 'POST' && request.path.startsWith('/admin')",
                None
            ),
            Ok(true)
        );
        assert_eq!(eval("request.headers['x-team'] == 'blue'", None), Ok(true));
        assert_eq!(eval("'admin' in principal.roles", Some(&p)), Ok(true));
        assert_eq!(
            eval(
                "principal.claims.tenant == 'acme' && principal.claims.tier > 2",
                Some(&p)
            ),
            Ok(true)
        );
        assert_eq!(eval("principal.authenticated", None), Ok(false));
        assert_eq!(
            eval("request.path.matches('^/admin/[a-z]+$')", None),
            Ok(true)
        );
        assert_eq!(eval("matches(request.host, 'example$')", None), Ok(true));
        assert_eq!(eval("source.ip.startsWith('10.')", None), Ok(true));
    }

    #[test]
    fn errors_are_errors() {
        assert!(CelCondition::compile("request.method ==").is_err());
        assert!(eval("request.nope.x == 1", None).is_err());
        assert!(eval("request.method", None).is_err(), "not a boolean");
        assert!(eval("request.path.matches('(')", None).is_err());
    }
}
