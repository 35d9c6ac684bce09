//! The SecLang parser on the unmodified CRS: every file splits into
//! directives, every target list and action list parses, and a broken file
//! is reported with its file and line.

use portcullis::waf::seclang::{parse_actions, parse_file, parse_targets};
use std::path::{Path, PathBuf};

fn crs_dir() -> PathBuf {
    let shared = std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    shared.join("waf/crs-v4.28.0")
}

#[test]
fn every_crs_directive_parses() {
    let crs = crs_dir();
    let mut files = vec![crs.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs.join("rules"))
        .expect("CRS rules directory (set PORTCULLIS_SHARED)")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    assert!(
        rules.len() >= 25,
        "expected the CRS rule files, found {}",
        rules.len()
    );
    files.extend(rules);
    let mut rule_count = 0;
    for file in &files {
        for d in parse_file(file).unwrap_or_else(|e| panic!("{e}")) {
            let at = format!("{}:{}", d.file.display(), d.line);
            match d.name.as_str() {
                "SecRule" => {
                    rule_count += 1;
                    parse_targets(&d.args[0]).unwrap_or_else(|e| panic!("{at}: {e}"));
                    assert!(d.args.len() <= 3, "{at}: {:?}", d.args);
                    if let Some(actions) = d.args.get(2) {
                        parse_actions(actions).unwrap_or_else(|e| panic!("{at}: {e}"));
                    }
                }
                "SecAction" | "SecDefaultAction" => {
                    parse_actions(&d.args[0]).unwrap_or_else(|e| panic!("{at}: {e}"));
                }
                _ => {}
            }
        }
    }
    assert!(rule_count > 600, "only {rule_count} SecRule directives");
}

#[test]
fn a_broken_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(
        &path,
        "SecRule ARGS \"@rx a\" \"id:1,pass\"\n\n# note\nSecRule ARGS \"@rx b\n",
    )
    .unwrap();
    let err = parse_file(&path).unwrap_err();
    assert_eq!(err.line, 4);
    assert!(
        err.to_string()
            .starts_with(&format!("{}:4:", path.display())),
        "{err}"
    );
}

#[test]
fn includes_follow_globs_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.conf"), "SecMarker B\n").unwrap();
    std::fs::write(dir.path().join("a.conf"), "SecMarker A\n").unwrap();
    std::fs::write(dir.path().join("main.conf"), "Include *.conf\n").unwrap();
    // main.conf includes itself through the glob: the depth bound stops it.
    let err = parse_file(&dir.path().join("main.conf")).unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{err}");
    std::fs::write(
        dir.path().join("main.conf"),
        "Include a.conf\nInclude b.conf\n",
    )
    .unwrap();
    let d = parse_file(&dir.path().join("main.conf")).unwrap();
    let names: Vec<&str> = d.iter().map(|d| d.args[0].as_str()).collect();
    assert_eq!(names, vec!["A", "B"]);
}

/// The fuzz target's property (`fuzz/fuzz_targets/waf_seclang.rs`) on a fixed
/// sample: every prefix of a CRS-style rule file and thousands of byte-level
/// mutations of it load or fail with an error that names a line — no panic.
#[test]
fn mutated_rule_text_never_panics() {
    use portcullis::waf::engine::{Connection, Engine, RuleSource};
    let seed = concat!(
        "SecRuleEngine On\n",
        "SecAction \"id:2,phase:1,pass,nolog,setvar:tx.score=+5,setvar:'tx.msg=%{MATCHED_VAR}'\"\n",
        "SecRule ARGS|!ARGS:b|&TX:x \"@rx (?i)union\\s+\\x{e2}[\\x80-\\x{bf}]\" \\\n",
        "    \"id:3,phase:2,chain,deny,status:403,t:none,t:urlDecodeUni,capture,msg:'m %{TX.0}'\"\n",
        "    SecRule REQUEST_HEADERS:/^X-/ \"!@pm a bb ccc\" \"ctl:ruleRemoveTargetById=4;ARGS:q\"\n",
        "SecRule TX:SCORE \"@ge %{tx.limit}\" \"id:4,phase:2,skipAfter:END,pass\"\n",
        "SecMarker END\n",
    );
    let load = |text: String| {
        let source = RuleSource::Text {
            name: "mutated.conf".into(),
            text,
        };
        if let Ok(engine) = Engine::load(&[source]) {
            let mut tx = engine.transaction(Connection::default());
            tx.request_headers(b"GET", b"/?a=union%20select", b"HTTP/1.1", Vec::new());
            tx.request_body(b"");
            let _ = tx.finish();
        }
    };
    for end in 0..=seed.len() {
        if seed.is_char_boundary(end) {
            load(seed[..end].to_string());
        }
    }
    let alphabet = b"\"'\\%{}|!&:;,@ \n()[]^$x0";
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..3000 {
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..bytes.len());
            match rng.u8(..3) {
                0 => bytes[at] = alphabet[rng.usize(..alphabet.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[rng.usize(..alphabet.len())]),
            }
        }
        load(String::from_utf8_lossy(&bytes).into_owned());
    }
}
