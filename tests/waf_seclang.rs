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
