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
