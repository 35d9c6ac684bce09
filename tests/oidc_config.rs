//! Config errors of the `oidc` and `introspection` policies: each wrong
//! value is reported with file:line:col and the field, and the examples'
//! shapes load.

use portcullis::config::load::load_str;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn oidc(fields: &str) -> String {
    format!(
        "policies:\n  - name: login\n    oidc:\n      issuer: https://idp.example.com\n      client_id: gw\n      redirect_uri: https://example.com/oauth2/callback\n{fields}"
    )
}

fn intro(fields: &str) -> String {
    format!("policies:\n  - name: opaque\n    introspection:\n      client_id: gw\n{fields}")
}

/// Loads `yaml` and returns the error lines (empty when it loads).
fn errors(yaml: &str) -> Vec<String> {
    match load_str(yaml, "gw.yaml") {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

/// The failure message when `yaml` lacks an error at `field` with `words`.
fn missing_error(yaml: &str, field: &str, words: &str) -> Option<String> {
    let errs = errors(yaml);
    let found = errs.iter().any(|e| {
        e.starts_with("gw.yaml:") && e.contains(&format!(" {field}: ")) && e.contains(words)
    });
    (!found).then(|| format!("expected {field} ({words}) in {errs:#?}"))
}

fn check_all(cases: Vec<(String, &str, &str)>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(yaml, field, words)| missing_error(yaml, field, words))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_valid_oidc_policy_loads() {
    let yaml = oidc(&format!(
        "      client_secret: s\n      session_keys: [{{ id: k1, secret: \"{KEY}\" }}]\n"
    ));
    assert_eq!(errors(&yaml), Vec::<String>::new());
}

#[test]
fn oidc_wrong_values_name_their_field() {
    let keys = format!("      session_keys: [{{ id: k1, secret: \"{KEY}\" }}]\n");
    let secret = "      client_secret: s\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            oidc(&format!("{secret}{keys}      unknown_field: 1\n")),
            "policies[0].oidc.unknown_field",
            "unknown field",
        ),
        (
            oidc(&format!("{secret}{keys}"))
                .replace("https://idp.example.com", "http://idp.example.com"),
            "policies[0].oidc.issuer",
            "plain http",
        ),
        (
            oidc(&format!("{secret}{keys}")).replace("https://idp.example.com", "not a url"),
            "policies[0].oidc.issuer",
            "invalid URL",
        ),
        (
            oidc(&format!("{secret}{keys}"))
                .replace("https://example.com/oauth2/callback", "/callback"),
            "policies[0].oidc.redirect_uri",
            "invalid URL",
        ),
        (oidc(&keys), "policies[0].oidc", "client_secret"),
        (
            oidc(&format!(
                "      client_secret_file: /nonexistent/secret\n{keys}"
            )),
            "policies[0].oidc.client_secret_file",
            "cannot read",
        ),
        (
            oidc(&format!("{secret}      session_keys: []\n")),
            "policies[0].oidc.session_keys",
            "at least one",
        ),
        (
            oidc(&format!(
                "{secret}      session_keys: [{{ id: k1, file: /nonexistent/key }}]\n"
            )),
            "policies[0].oidc.session_keys[0].file",
            "cannot read",
        ),
        (
            oidc(&format!(
                "{secret}      session_keys: [{{ id: k1, secret: c2hvcnQ= }}]\n"
            )),
            "policies[0].oidc.session_keys[0].secret",
            "32 bytes",
        ),
        (
            oidc(&format!(
                "{secret}      session_keys: [{{ id: \"bad id\", secret: \"{KEY}\" }}]\n"
            )),
            "policies[0].oidc.session_keys[0].id",
            "letters",
        ),
        (
            oidc(&format!(
                "{secret}      session_keys: [{{ id: a, secret: \"{KEY}\" }}, {{ id: a, secret: \"{KEY}\" }}]\n"
            )),
            "policies[0].oidc.session_keys[1].id",
            "duplicate",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      cookie: {{ name: \"a b\" }}\n"
            )),
            "policies[0].oidc.cookie",
            "cookie.name",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      cookie: {{ same_site: Sometimes }}\n"
            )),
            "policies[0].oidc.cookie.same_site",
            "unknown variant",
        ),
        (
            oidc(&format!("{secret}{keys}      algorithms: [none]\n")),
            "policies[0].oidc.algorithms[0]",
            "unsupported",
        ),
        (
            oidc(&format!("{secret}{keys}      max_sessions: 0\n")),
            "policies[0].oidc.max_sessions",
            "between",
        ),
        (
            oidc(&format!("{secret}{keys}      session_ttl: 0s\n")),
            "policies[0].oidc.session_ttl",
            "more than 0",
        ),
        (
            oidc(&format!("{secret}{keys}      refresh_before: soon\n")),
            "policies[0].oidc.refresh_before",
            "invalid duration",
        ),
        (
            oidc(&format!("{secret}{keys}      logout_path: logout\n")),
            "policies[0].oidc.logout_path",
            "start with",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      forward: {{ id_token_header: \"bad header\" }}\n"
            )),
            "policies[0].oidc.forward.id_token_header",
            "invalid header",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      claims_to_headers: [{{ claim: sub, header: \"x y\" }}]\n"
            )),
            "policies[0].oidc.claims_to_headers[0].header",
            "invalid header",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      ca_file: /nonexistent/ca.pem\n"
            )),
            "policies[0].oidc.ca_file",
            "",
        ),
        (
            oidc(&format!("{secret}{keys}      timeout: 0s\n")),
            "policies[0].oidc.timeout",
            "more than 0",
        ),
        (
            oidc(&format!(
                "{secret}{keys}      post_logout_redirect_uri: \"ftp://x\"\n"
            )),
            "policies[0].oidc.post_logout_redirect_uri",
            "invalid URL",
        ),
    ];
    check_all(cases);
}

#[test]
fn introspection_wrong_values_name_their_field() {
    let ep = "      endpoint: https://idp.example.com/introspect\n";
    let secret = "      client_secret: s\n";
    assert_eq!(
        errors(&intro(&format!("{ep}{secret}"))),
        Vec::<String>::new()
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (intro(secret), "policies[0].introspection", "endpoint"),
        (
            intro(&format!(
                "      endpoint: http://idp.example.com/introspect\n{secret}"
            )),
            "policies[0].introspection.endpoint",
            "plain http",
        ),
        (
            intro(&format!("      endpoint: \"::\"\n{secret}")),
            "policies[0].introspection.endpoint",
            "invalid URL",
        ),
        (intro(ep), "policies[0].introspection", "client_secret"),
        (
            intro(&format!(
                "{ep}      client_secret_file: /nonexistent/secret\n"
            )),
            "policies[0].introspection.client_secret_file",
            "cannot read",
        ),
        (
            intro(&format!("{ep}{secret}      auth_method: private_key_jwt\n")),
            "policies[0].introspection.auth_method",
            "unknown variant",
        ),
        (
            intro(&format!("{ep}{secret}      from: []\n")),
            "policies[0].introspection.from",
            "at least one",
        ),
        (
            intro(&format!("{ep}{secret}      from: [{{ cookie: \"\" }}]\n")),
            "policies[0].introspection.from[0]",
            "invalid",
        ),
        (
            intro(&format!("{ep}{secret}      max_token_bytes: 0\n")),
            "policies[0].introspection.max_token_bytes",
            "between",
        ),
        (
            intro(&format!("{ep}{secret}      cache_entries: 99999999\n")),
            "policies[0].introspection.cache_entries",
            "at most",
        ),
        (
            intro(&format!("{ep}{secret}      cache_ttl: forever\n")),
            "policies[0].introspection.cache_ttl",
            "invalid duration",
        ),
        (
            intro(&format!("{ep}{secret}      fail_open: maybe\n")),
            "policies[0].introspection.fail_open",
            "",
        ),
        (
            intro(&format!("{ep}{secret}      timeout: 0s\n")),
            "policies[0].introspection.timeout",
            "more than 0",
        ),
        (
            intro(&format!(
                "{ep}{secret}      claims_to_headers: [{{ claim: \"\", header: x }}]\n"
            )),
            "policies[0].introspection.claims_to_headers[0].claim",
            "empty",
        ),
        (
            intro(&format!("{ep}{secret}      ca_file: /nonexistent/ca.pem\n")),
            "policies[0].introspection.ca_file",
            "",
        ),
        (
            intro(&format!("{ep}{secret}      extra: 1\n")),
            "policies[0].introspection.extra",
            "unknown field",
        ),
    ];
    check_all(cases);
}
