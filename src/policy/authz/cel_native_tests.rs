//! Differential tests: the native evaluator against the `cel` interpreter
//! on generated expressions and inputs (property-style, seeded so a failure
//! reproduces). Whenever the native evaluator answers, it must answer as
//! the interpreter does (true, false, or an error).

use std::sync::Arc;

use crate::listener::client_ip::ClientIp;
use crate::policy::PolicyInput;
use crate::policy::authz::cel::CelCondition;
use crate::policy::principal::{AuthMethod, Principal};

const FIELDS: &[&str] = &[
    "request.method",
    "request.path",
    "request.host",
    "request.query",
    "request.headers['x-team']",
    "request.headers['x-missing']",
    "request.headers['X-Team']",
    "request.headers.host",
    "request.nope",
    "source.ip",
    "principal.subject",
    "principal.authenticated",
    "principal.issuer",
    "principal.method",
    "principal.client_id",
    "principal.roles",
    "principal.scopes",
    "principal.roles[0]",
    "principal.roles[5]",
    "principal.claims.tenant",
    "principal.claims.tier",
    "principal.claims.ratio",
    "principal.claims.neg",
    "principal.claims.flag",
    "principal.claims.nul",
    "principal.claims.groups",
    "principal.claims.org",
    "principal.claims.org.name",
    "principal.claims['https://x/roles']",
    "principal.claims.missing",
    "principal.claims.tenant.x",
    "principal.claims",
];

const LITERALS: &[&str] = &[
    "'acme'",
    "'GET'",
    "'POST'",
    "'/admin/users'",
    "'admin'",
    "'blue'",
    "'10.1.2.3'",
    "'alice'",
    "''",
    "2",
    "3",
    "3u",
    "0",
    "-1",
    "2.5",
    "3.0",
    "true",
    "false",
    "null",
    "'3'",
    "'a'",
];

const PATTERNS: &[&str] = &["'^/admin'", "'acme$'", "'^[a-z]+$'", "'b.u'", "'^$'"];

const HAS: &[&str] = &[
    "principal.claims.tenant",
    "principal.claims.missing",
    "principal.claims.org.name",
    "principal.issuer",
    "principal.roles.x",
    "principal.claims.tenant.x",
    "request.headers.host",
    "request.headers.x",
    "request.method",
    "request.nope",
    "source.ip",
];

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn operand(rng: &mut fastrand::Rng) -> String {
    if rng.bool() {
        pick(rng, FIELDS).to_owned()
    } else {
        pick(rng, LITERALS).to_owned()
    }
}

fn leaf(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..12) {
        0 => format!("{} == {}", operand(rng), operand(rng)),
        1 => format!("{} != {}", operand(rng), operand(rng)),
        2 => {
            let op = pick(rng, &["<", "<=", ">", ">="]);
            format!("{} {op} {}", operand(rng), operand(rng))
        }
        3 => {
            let n = rng.usize(0..4);
            let items: Vec<&str> = (0..n).map(|_| pick(rng, LITERALS)).collect();
            format!("{} in [{}]", operand(rng), items.join(", "))
        }
        4 => format!("{} in {}", operand(rng), pick(rng, FIELDS)),
        5 => format!("has({})", pick(rng, HAS)),
        6 => format!("{}.matches({})", operand(rng), pick(rng, PATTERNS)),
        7 => format!("matches({}, {})", operand(rng), pick(rng, PATTERNS)),
        8 => {
            let f = pick(rng, &["startsWith", "endsWith", "contains"]);
            format!("{}.{f}({})", operand(rng), pick(rng, LITERALS))
        }
        9 => pick(rng, FIELDS).to_owned(),
        10 => pick(rng, &["true", "false"]).to_owned(),
        _ => format!("{} == {}", pick(rng, FIELDS), pick(rng, LITERALS)),
    }
}

fn expression(rng: &mut fastrand::Rng, depth: u32) -> String {
    if depth == 0 || rng.u8(..3) == 0 {
        return leaf(rng);
    }
    match rng.u8(..4) {
        0 => format!(
            "{} && {}",
            expression(rng, depth - 1),
            expression(rng, depth - 1)
        ),
        1 => format!(
            "{} || {}",
            expression(rng, depth - 1),
            expression(rng, depth - 1)
        ),
        2 => format!("!({})", expression(rng, depth - 1)),
        _ => format!("({})", expression(rng, depth - 1)),
    }
}

fn principals() -> Vec<Option<Principal>> {
    let mut full = Principal::new(AuthMethod::Jwt, "jwt".into(), "alice");
    full.issuer = Some("https://idp".into());
    full.key_id = Some("app".into());
    full.roles = vec!["admin".into(), "dev".into()];
    full.scopes = vec!["read".into()];
    full.claims = serde_json::json!({"tenant": "acme", "tier": 3, "ratio": 2.5, "neg": -1,
        "flag": true, "nul": null, "groups": ["a", "admin"], "org": {"name": "acme"},
        "https://x/roles": ["r"]});
    let mut odd = Principal::new(AuthMethod::ApiKey, "keys".into(), "");
    odd.claims = serde_json::json!({"tenant": 7, "tier": "3", "ratio": 3, "neg": 2.5,
        "flag": "yes", "groups": "admin", "org": ["name"]});
    let mut bare = Principal::new(AuthMethod::Mtls, "mtls".into(), "spiffe://x");
    bare.claims = serde_json::Value::Null;
    vec![None, Some(full), Some(odd), Some(bare)]
}

fn headers() -> Vec<http::HeaderMap> {
    let one = {
        let mut h = http::HeaderMap::new();
        h.insert("x-team", "blue".parse().unwrap());
        h.insert("host", "api.example".parse().unwrap());
        h
    };
    let two = {
        let mut h = http::HeaderMap::new();
        h.append("x-team", "blue".parse().unwrap());
        h.append("x-team", "red".parse().unwrap());
        h
    };
    let binary = {
        let mut h = http::HeaderMap::new();
        h.append("x-team", http::HeaderValue::from_bytes(b"\xff").unwrap());
        h.append("x-team", "green".parse().unwrap());
        h
    };
    vec![http::HeaderMap::new(), one, two, binary]
}

#[test]
fn native_agrees_with_the_interpreter() {
    let mut rng = fastrand::Rng::with_seed(0x8a11_0c05);
    let principals = principals();
    let headers = headers();
    let requests = [
        (&http::Method::GET, "/admin/users", Some("a=1")),
        (&http::Method::POST, "/api", None),
    ];
    let (mut compared, mut native_exprs, mut total) = (0usize, 0usize, 0usize);
    // How the compared answers split: true, false, error.
    let mut answers = [0usize; 3];
    for _ in 0..2500 {
        let expr = expression(&mut rng, 3);
        let Ok(cond) = CelCondition::compile(&expr) else {
            continue;
        };
        total += 1;
        native_exprs += usize::from(cond.is_native());
        for principal in &principals {
            for h in &headers {
                let (method, path, query) = requests[rng.usize(..requests.len())];
                let input = PolicyInput {
                    client_ip: ClientIp::from_trusted_source("10.1.2.3".parse().unwrap()),
                    client_cert: None,
                    method,
                    host: "api.example",
                    path,
                    query,
                    target: "/",
                    version: http::Version::HTTP_11,
                    headers: h,
                    route: "r",
                    principal: principal.as_ref(),
                };
                let Some(native) = cond.evaluate_native(&input) else {
                    continue;
                };
                let interpreted = cond.evaluate_interpreted(&input);
                assert_eq!(
                    native,
                    interpreted.clone().map_err(|_| ()),
                    "{expr}\nprincipal {:?}\nheaders {h:?}\ninterpreter: {interpreted:?}",
                    principal.as_ref().map(|p| &p.claims),
                );
                // (Error texts may list map entries in any order.)
                assert_eq!(
                    cond.evaluate(&input).map_err(|_| ()),
                    interpreted.map_err(|_| ()),
                    "the combined path answers as the interpreter"
                );
                compared += 1;
                answers[match native {
                    Ok(true) => 0,
                    Ok(false) => 1,
                    Err(()) => 2,
                }] += 1;
            }
        }
    }
    // The generator stays inside the subset, so nearly everything is native.
    assert!(total > 2000, "{total} expressions compiled");
    assert!(
        native_exprs * 10 >= total * 9,
        "{native_exprs} of {total} native"
    );
    assert!(compared > 20_000, "{compared} comparisons");
    // Each kind of answer is well represented (not a test of errors only).
    assert!(
        answers.iter().all(|n| n * 8 > compared),
        "true/false/error: {answers:?}"
    );
}

#[test]
fn shapes_outside_the_subset_use_the_interpreter() {
    for expr in [
        "request.path.size() > 3",
        "principal.roles.exists(r, r == 'admin')",
        "request.method == 'GET' ? true : false",
        "request.path + 'x' == '/ax'",
        "request.path.matches(request.host)",
        "request.path.matches('(')",
        "b'x' == b'x'",
    ] {
        let cond = CelCondition::compile(expr).unwrap();
        assert!(!cond.is_native(), "{expr}");
    }
    for expr in [
        "principal.claims.tenant == 'acme' && request.method == 'GET'",
        "'admin' in principal.roles || request.path.startsWith('/public')",
        "has(principal.claims.tenant) && !(principal.claims.tier < 2)",
        "request.headers['x-team'].matches('^b')",
        "request.method in ['GET', 'HEAD']",
    ] {
        let cond = CelCondition::compile(expr).unwrap();
        assert!(cond.is_native(), "{expr}");
    }
}

#[test]
fn the_principal_value_is_shared_not_rebuilt() {
    let mut p = Principal::new(AuthMethod::Jwt, Arc::from("jwt"), "alice");
    p.claims = serde_json::json!({"tenant": "acme"});
    let cond = CelCondition::compile("principal.claims.tenant == 'acme'").unwrap();
    let headers = http::HeaderMap::new();
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source("10.1.2.3".parse().unwrap()),
        client_cert: None,
        method: &http::Method::GET,
        host: "h",
        path: "/",
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        principal: Some(&p),
    };
    assert_eq!(cond.evaluate_native(&input), Some(Ok(true)));
    assert!(
        p.cel_value.get().is_some(),
        "built once, kept on the principal"
    );
}
