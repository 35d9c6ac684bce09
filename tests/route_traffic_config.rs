//! Bad retries, mirrors and backend protocols are refused with the file,
//! line and column of the field, by the same checks `run` uses.

use portcullis::config::load::load_str;

fn errors(yaml: &str) -> String {
    match load_str(yaml, "gw.yaml") {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

const HEAD: &str = "listeners:\n  - name: web\n    address: 127.0.0.1:8080\nbackends:\n  - name: app\n    endpoints: [{ address: \"127.0.0.1:9000\" }]\n";

#[test]
fn bad_retries_name_their_field_and_position() {
    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    backend: app\n    retries:\n      attempts: 0\n      codes: [503, 500]\n      budget: {{ percent: 150 }}\n"
    );
    let text = errors(&yaml);
    // One error per route filter set: the first bad field is reported.
    assert!(
        text.contains("gw.yaml:11:17 routes[0].retries.attempts: must be between 1 and 10"),
        "{text}"
    );

    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    backend: app\n    retries:\n      codes: [503, 500]\n"
    );
    let text = errors(&yaml);
    assert!(
        text.contains("gw.yaml:11:20 routes[0].retries.codes[1]: 500 is not retried"),
        "{text}"
    );

    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    direct_response: {{ status: 200 }}\n    retries: {{ attempts: 1 }}\n"
    );
    assert!(errors(&yaml).contains("routes[0].retries: retries need a backend"));

    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    backend: app\n    retries: {{ per_try_timeout: 0s }}\n"
    );
    assert!(errors(&yaml).contains("routes[0].retries.per_try_timeout: must be greater than 0"));
}

#[test]
fn bad_mirrors_name_their_field_and_position() {
    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    backend: app\n    mirror:\n      backend: nope\n      percent: 0\n"
    );
    let text = errors(&yaml);
    assert!(
        text.contains("gw.yaml:11:16 routes[0].mirror.backend: unknown backend \"nope\""),
        "{text}"
    );
    assert!(
        text.contains("gw.yaml:12:16 routes[0].mirror.percent: must be between 1 and 100"),
        "{text}"
    );

    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    direct_response: {{ status: 200 }}\n    mirror: {{ backend: app }}\n"
    );
    assert!(errors(&yaml).contains("routes[0].mirror: a mirror copies forwarded requests"));

    let yaml = format!(
        "{HEAD}routes:\n  - name: r\n    backend: app\n    mirror: {{ backend: app, max_in_flight: 0 }}\n"
    );
    assert!(errors(&yaml).contains("routes[0].mirror.max_in_flight: must be between 1 and 10000"));
}

#[test]
fn an_unknown_backend_protocol_is_refused_with_its_position() {
    let yaml = "listeners:\n  - name: web\n    address: 127.0.0.1:8080\nbackends:\n  - name: app\n    protocol: http3\n    endpoints: [{ address: \"127.0.0.1:9000\" }]\n";
    let text = errors(yaml);
    assert!(
        text.contains("gw.yaml:6:15 backends[0].protocol: unknown variant `http3`"),
        "{text}"
    );
}
