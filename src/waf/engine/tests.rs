//! Engine semantics on small SecLang rule sets: phases, chains, skips,
//! markers, setvar and macros, ctl, exclusions, captures, interventions.

use super::{Connection, Engine, RuleSource};
use std::path::PathBuf;

fn engine(rules: &str) -> Engine {
    Engine::load(&[RuleSource::Text {
        name: PathBuf::from("test.conf"),
        text: format!("SecRuleEngine On\nSecRequestBodyAccess On\n{rules}"),
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn headers(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    list.iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Runs a GET through phases 1–5 and returns the matched rule ids.
fn ids(engine: &Engine, target: &str, hdrs: &[(&str, &str)]) -> Vec<u32> {
    let mut tx = engine.transaction(Connection::default());
    tx.request_headers(b"GET", target.as_bytes(), b"HTTP/1.1", headers(hdrs));
    tx.request_body(b"");
    tx.response_headers(200, b"HTTP/1.1", Vec::new());
    tx.response_body(b"");
    tx.finish().iter().map(|m| m.id).collect()
}

#[test]
fn matches_args_and_denies_with_status() {
    let e = engine(
        r#"SecRule ARGS:q "@rx attack" "id:1,phase:1,deny,status:406,msg:'found %{MATCHED_VAR_NAME}'""#,
    );
    let mut tx = e.transaction(Connection::default());
    let stop = tx.request_headers(b"GET", b"/?q=an+attack&x=1", b"HTTP/1.1", Vec::new());
    let stop = stop.expect("denied");
    assert_eq!((stop.rule_id, stop.status, stop.phase), (1, 406, 1));
    assert_eq!(tx.matched()[0].message, "found ARGS:q");
    assert_eq!(ids(&e, "/?x=attack", &[]), Vec::<u32>::new());
}

#[test]
fn chains_need_every_link_and_setvar_runs_per_match() {
    let e = engine(
        r#"
SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "id:10,phase:1,pass,capture,t:none,t:lowercase,setvar:'tx.h_%{tx.0}=/%{tx.0}/',chain"
    SecRule TX:/^h_/ "@rx /x-bad/" "setvar:'tx.score=+5'"
SecRule TX:score "@eq 5" "id:11,phase:1,pass"
"#,
    );
    assert_eq!(
        ids(&e, "/", &[("X-Bad", "1"), ("Accept", "*/*")]),
        vec![10, 11]
    );
    assert_eq!(ids(&e, "/", &[("Accept", "*/*")]), Vec::<u32>::new());
}

#[test]
fn skip_after_jumps_to_the_marker_and_skip_counts_rules() {
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,skipAfter:END"
SecAction "id:2,phase:1,pass"
SecMarker END
SecAction "id:3,phase:1,pass,skip:1"
SecAction "id:4,phase:1,pass"
SecAction "id:5,phase:1,pass"
"#,
    );
    assert_eq!(ids(&e, "/", &[]), vec![1, 3, 5]);
}

#[test]
fn macros_in_operator_parameters_and_counts() {
    let e = engine(
        r#"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.limit=2"
SecRule &ARGS "@gt %{tx.limit}" "id:2,phase:1,pass"
SecRule &TX:missing "@eq 0" "id:3,phase:1,pass"
"#,
    );
    assert_eq!(ids(&e, "/?a=1&b=2&c=3", &[]), vec![1, 2, 3]);
    assert_eq!(ids(&e, "/?a=1", &[]), vec![1, 3]);
}

#[test]
fn exclusions_and_ctl_target_removal() {
    let e = engine(
        r#"
SecRule ARGS|!ARGS:safe "@rx evil" "id:1,phase:1,pass"
SecRule REQUEST_URI "@rx ^/skip" "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=3;ARGS:q"
SecRule ARGS "@rx evil" "id:3,phase:1,pass"
SecRule REQUEST_URI "@rx ^/off" "id:4,phase:1,pass,nolog,ctl:ruleRemoveById=5"
SecAction "id:5,phase:1,pass"
"#,
    );
    assert_eq!(ids(&e, "/?safe=evil", &[]), vec![3, 5]);
    assert_eq!(ids(&e, "/skip?q=evil", &[]), vec![1, 2, 5]);
    assert_eq!(ids(&e, "/off", &[]), vec![4]);
}

#[test]
fn detection_only_records_without_intervening_and_block_uses_the_default() {
    let e = Engine::load(&[RuleSource::Text {
        name: PathBuf::from("t.conf"),
        text: "SecRuleEngine DetectionOnly\nSecDefaultAction \"phase:1,log,deny,status:418\"\nSecRule REQUEST_METHOD \"@rx GET\" \"id:1,phase:1,block\"".into(),
    }])
    .unwrap();
    let mut tx = e.transaction(Connection::default());
    assert!(
        tx.request_headers(b"GET", b"/", b"HTTP/1.1", Vec::new())
            .is_none()
    );
    assert_eq!(tx.matched()[0].id, 1);

    let e = engine(
        "SecDefaultAction \"phase:1,log,deny,status:418\"\nSecRule REQUEST_METHOD \"@rx GET\" \"id:1,phase:1,block\"",
    );
    let mut tx = e.transaction(Connection::default());
    assert_eq!(
        tx.request_headers(b"GET", b"/", b"HTTP/1.1", Vec::new())
            .map(|i| i.status),
        Some(418)
    );
}

#[test]
fn logging_phase_runs_after_a_deny_and_later_phases_do_not() {
    let e = engine(
        r#"
SecAction "id:1,phase:1,deny"
SecAction "id:2,phase:2,pass"
SecAction "id:5,phase:5,pass"
"#,
    );
    assert_eq!(ids(&e, "/", &[]), vec![1, 5]);
}

#[test]
fn variables_of_the_request_line() {
    let e = engine(
        r#"
SecRule REQUEST_FILENAME "@rx ^/a b/c\.php$" "id:1,phase:1,pass"
SecRule REQUEST_BASENAME "@rx ^c\.php$" "id:2,phase:1,pass"
SecRule QUERY_STRING "@rx ^x=1$" "id:3,phase:1,pass"
SecRule REQUEST_LINE "@rx ^GET /a%20b/c\.php\?x=1 HTTP/1\.1$" "id:4,phase:1,pass"
SecRule REQUEST_COOKIES:sid "@rx ^abc$" "id:5,phase:1,pass"
SecRule REQUEST_HEADERS:user-agent "@rx ^curl" "id:6,phase:1,pass"
"#,
    );
    assert_eq!(
        ids(
            &e,
            "/a%20b/c.php?x=1",
            &[("Cookie", "sid=abc; other=1"), ("User-Agent", "curl/8")]
        ),
        vec![1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn rule_errors_name_file_line_and_directive() {
    let err = Engine::load(&[RuleSource::Text {
        name: PathBuf::from("bad.conf"),
        text: "SecAction \"id:1,phase:1,pass\"\nSecRule NOPE \"@rx a\" \"id:2\"".into(),
    }])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad.conf:2: SecRule: unknown variable NOPE"
    );
    let err = Engine::load(&[RuleSource::Text {
        name: PathBuf::from("bad.conf"),
        text: "SecRule ARGS \"@rx (\" \"id:2\"".into(),
    }])
    .unwrap_err();
    assert!(
        err.to_string().starts_with("bad.conf:1: SecRule: @rx"),
        "{err}"
    );
    let err = Engine::load(&[RuleSource::Text {
        name: PathBuf::from("bad.conf"),
        text: "SecRule ARGS \"@rx a\" \"id:3,chain\"".into(),
    }])
    .unwrap_err();
    assert!(err.to_string().contains("chain"), "{err}");
}

#[test]
fn logged_data_is_escaped_and_bounded() {
    use super::transaction::log_escape;
    assert_eq!(
        log_escape(b"a\r\n\"b\\\xff", 100),
        "a\\x0d\\x0a\\\"b\\\\\\xff"
    );
    assert_eq!(log_escape(&[b'x'; 600], 512).len(), 512);
}
