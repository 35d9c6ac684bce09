//! Wrong values of the hardening and route-feature fields: each is refused
//! with its file:line:col and field.

use portcullis::config::load::load_str;

/// The single error `text` gives, as displayed.
fn error(text: &str) -> String {
    match load_str(text, "gateway.yaml") {
        Ok(cfg) => panic!("expected an error, got {cfg:?}"),
        Err(e) => {
            let lines: Vec<String> = e.0.iter().map(ToString::to_string).collect();
            assert_eq!(lines.len(), 1, "{lines:?}");
            lines[0].clone()
        }
    }
}

fn listener_http(http: &str) -> String {
    format!("listeners:\n  - name: web\n    address: 127.0.0.1:0\n    http:\n{http}")
}

#[test]
fn underscore_headers_wrong_value() {
    let e = error(&listener_http("      underscore_headers: sometimes\n"));
    assert!(
        e.starts_with(
            "gateway.yaml:5:27 listeners[0].http.underscore_headers: unknown variant `sometimes`"
        ),
        "{e}"
    );
}

#[test]
fn path_strictness_wrong_value() {
    let e = error(&listener_http("      path_strictness: lax\n"));
    assert!(
        e.starts_with("gateway.yaml:5:24 listeners[0].http.path_strictness: unknown variant `lax`"),
        "{e}"
    );
}

#[test]
fn strip_untrusted_headers_bad_name() {
    let e = error(&listener_http(
        "      strip_untrusted_headers:\n        - x-ok\n        - \"bad name\"\n",
    ));
    assert_eq!(
        e,
        "gateway.yaml:7:11 listeners[0].http.strip_untrusted_headers[1]: \"bad name\" is not a valid header name"
    );
}

#[test]
fn case_insensitive_not_a_bool() {
    let text = "routes:\n  - name: r\n    match:\n      path: { prefix: /a, case_insensitive: maybe }\n    direct_response: { status: 200 }\n";
    let e = error(text);
    assert!(
        e.starts_with("gateway.yaml:4:45 routes[0].match.path.case_insensitive: invalid type"),
        "{e}"
    );
}

#[test]
fn body_timeout_zero_and_garbage() {
    let e = error(&listener_http("      body_timeout: 0s\n"));
    assert_eq!(
        e,
        "gateway.yaml:5:21 listeners[0].http.body_timeout: must be greater than 0 (null disables it)"
    );
    let e = error(&listener_http("      body_timeout: soon\n"));
    assert!(
        e.starts_with("gateway.yaml:5:21 listeners[0].http.body_timeout: invalid duration"),
        "{e}"
    );
}

#[test]
fn server_header_wrong_values() {
    let e = error(&listener_http("      server_header: hide\n"));
    assert!(
        e.starts_with("gateway.yaml:5:22 listeners[0].http.server_header: unknown variant `hide`"),
        "{e}"
    );
    let e = error(&listener_http("      server_header: { set: \"\" }\n"));
    assert!(
        e.contains("listeners[0].http.server_header.set: \"\" is not a valid"),
        "{e}"
    );
}

fn route(body: &str) -> String {
    format!(
        "backends:\n  - name: app\n    endpoints: [{{ address: \"127.0.0.1:9\" }}]\nroutes:\n  - name: r\n    match: {{ path: {{ prefix: /a }} }}\n{body}"
    )
}

#[test]
fn redirect_with_a_backend_is_a_conflict() {
    let e = error(&route(
        "    backend: app\n    redirect: { scheme: https }\n",
    ));
    assert!(
        e.starts_with("gateway.yaml:8:15 routes[0].redirect: a redirect is the route's answer"),
        "{e}"
    );
}

#[test]
fn redirect_bad_status_and_scheme() {
    let e = error(&route("    redirect: { status_code: 200 }\n"));
    assert_eq!(
        e,
        "gateway.yaml:7:30 routes[0].redirect.status_code: 200: must be 301, 302, 303, 307 or 308"
    );
    let e = error(&route("    redirect: { scheme: ftp }\n"));
    assert_eq!(
        e,
        "gateway.yaml:7:25 routes[0].redirect.scheme: \"ftp\": must be http or https"
    );
}

#[test]
fn rewrite_regex_that_does_not_compile() {
    let e = error(&route(
        "    backend: app\n    rewrite:\n      path: { regex: { pattern: \"(\", substitution: / } }\n",
    ));
    assert!(
        e.starts_with("gateway.yaml:9:33 routes[0].rewrite.path.regex.pattern: invalid regex"),
        "{e}"
    );
}

#[test]
fn rewrite_without_backend_and_prefix_without_prefix_match() {
    let e = error(&route(
        "    direct_response: { status: 200 }\n    rewrite: { hostname: x }\n",
    ));
    assert!(
        e.starts_with("gateway.yaml:8:14 routes[0].rewrite: a rewrite needs a backend"),
        "{e}"
    );
    let text = "backends:\n  - name: app\n    endpoints: [{ address: \"127.0.0.1:9\" }]\nroutes:\n  - name: r\n    match: { path: { exact: /a } }\n    backend: app\n    rewrite: { path: { replace_prefix_match: /b } }\n";
    let e = error(text);
    assert!(
        e.starts_with("gateway.yaml:8:46 routes[0].rewrite.path.replace_prefix_match: needs a route with a `path.prefix` match"),
        "{e}"
    );
}

#[test]
fn header_modifier_protected_name_and_bad_template() {
    let e = error(&route(
        "    backend: app\n    request_headers:\n      set: [{ name: host, value: x }]\n",
    ));
    assert!(
        e.starts_with(
            "gateway.yaml:9:21 routes[0].request_headers.set[0].name: \"host\" is managed"
        ),
        "{e}"
    );
    let e = error(&route(
        "    backend: app\n    response_headers:\n      add: [{ name: x-a, value: \"${nope}\" }]\n",
    ));
    assert!(
        e.starts_with("gateway.yaml:9:33 routes[0].response_headers.add[0].value: unknown fact"),
        "{e}"
    );
}

#[test]
fn route_timeouts_wrong_values() {
    let e = error(&route("    backend: app\n    timeouts: { request: 0s }\n"));
    assert_eq!(
        e,
        "gateway.yaml:8:26 routes[0].timeouts.request: must be greater than 0"
    );
    let e = error(&route(
        "    backend: app\n    timeouts: { backend_request: later }\n",
    ));
    assert!(
        e.starts_with("gateway.yaml:8:34 routes[0].timeouts.backend_request: invalid duration"),
        "{e}"
    );
    let e = error(&route("    backend: app\n    max_body_bytes: -1\n"));
    assert!(
        e.starts_with("gateway.yaml:8:21 routes[0].max_body_bytes: invalid value"),
        "{e}"
    );
}

#[test]
fn weights_summing_to_zero_and_unknown_canary() {
    let e = error(&route("    backends: [{ name: app, weight: 0 }]\n"));
    assert_eq!(
        e,
        "gateway.yaml:7:15 routes[0].backends: the weights sum to 0: no request could be served"
    );
    let e = error(&route(
        "    backend: app\n    canary: { backend: nope, header: { name: x-c } }\n",
    ));
    assert_eq!(
        e,
        "gateway.yaml:8:24 routes[0].canary.backend: unknown backend \"nope\""
    );
    let e = error(&route("    backend: app\n    backends: [{ name: app }]\n"));
    assert_eq!(
        e,
        "gateway.yaml:8:15 routes[0].backends: set backend or backends, not both"
    );
}
