//! Every `examples/*.yaml` must load (parse + validate) and compile: the
//! examples are documentation, and documentation that does not run is wrong.
//! Files are discovered by listing the directory, so a new example is covered
//! without touching this test.

use std::path::{Path, PathBuf};

use portcullis::config::compile::compile;
use portcullis::config::load::load_file;
use portcullis::observe::access_log::AccessLog;

fn example_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_documented_examples_exist() {
    let names: Vec<String> = example_files()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    for expected in [
        "ip-filter.yaml",
        "load-balancing.yaml",
        "quickstart.yaml",
        "route-filters.yaml",
        "tls.yaml",
        "trusted-proxies.yaml",
        "grpc.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing (found {names:?})"
        );
    }
}

#[test]
fn every_example_loads_and_compiles() {
    let files = example_files();
    assert!(!files.is_empty(), "no examples found");
    let mut failures = Vec::new();
    for path in &files {
        let config = match load_file(path) {
            Ok(c) => c,
            Err(errors) => {
                failures.push(format!("{errors}"));
                continue;
            }
        };
        if let Err(errors) = compile(config, None, &AccessLog::disabled()) {
            for e in errors {
                failures.push(format!("{}: compile: {e}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The YAML blocks of the configuration guides are complete configurations
/// that validate; a block preceded by an `<!-- invalid ... -->` comment
/// demonstrates errors and must fail.
#[test]
fn yaml_blocks_in_the_guides_validate() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in [
        "configuration.md",
        "ip-filter.md",
        "client-ip.md",
        "load-balancing.md",
        "logging.md",
        "strict-http.md",
        "tls.md",
        "authentication.md",
        "authorization.md",
        "grpc.md",
    ] {
        let text = std::fs::read_to_string(docs.join(name)).expect("read doc");
        let mut rest = text.as_str();
        while let Some(start) = rest.find("```yaml\n") {
            let before = &rest[..start];
            let body_start = start + "```yaml\n".len();
            let len = rest[body_start..].find("```").expect("closed fence");
            let block = &rest[body_start..body_start + len];
            let line = text[..text.len() - rest.len() + start].lines().count() + 1;
            let label = format!("docs/{name}:{line}");
            let invalid = before.trim_end().ends_with("-->")
                && before
                    .rsplit("<!--")
                    .next()
                    .is_some_and(|c| c.trim_start().starts_with("invalid"));
            match (portcullis::config::load::load_str(block, &label), invalid) {
                (Ok(_), false) | (Err(_), true) => {}
                (Ok(_), true) => failures.push(format!("{label}: expected errors")),
                (Err(e), false) => failures.push(e.to_string()),
            }
            checked += 1;
            rest = &rest[body_start + len + 3..];
        }
    }
    assert!(checked >= 10, "only {checked} YAML blocks found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
