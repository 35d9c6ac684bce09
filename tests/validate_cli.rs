//! `portcullis validate` as a user runs it: the real binary, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn portcullis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .expect("run portcullis")
}

fn validate(path: &Path) -> Output {
    portcullis(&["validate", "--config", path.to_str().expect("utf-8 path")])
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

#[test]
fn valid_file_prints_ok_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "ok.yaml",
        "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n\
         routes:\n  - name: hello\n    direct_response: { status: 200, body: \"hi\\n\" }\n",
    );
    let out = validate(&path);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", path.display()));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn quickstart_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.yaml");
    let out = validate(&path);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with(": ok\n"));
}

/// Several semantic errors are reported in one run, each with the file, the
/// line and column of the offending value, and the field path; they are listed
/// in the order they appear in the file (backends first here, although the
/// gateway checks listeners and routes before backends).
#[test]
fn invalid_file_lists_every_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "\
backends:
  - name: api
    endpoints:
      - address: api_internal:8080
        weight: 0
listeners:
  - name: web
    address: 0.0.0.0:8080
    policies: [office]
routes:
  - name: api
    match:
      path: { prefix: api }
    backend: api-v2
";
    let path = write(&dir, "gateway.yaml", yaml);
    let out = validate(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let file = path.display().to_string();
    let expected = [
        format!(
            "{file}:4:18 backends[0].endpoints[0].address: invalid address \"api_internal:8080\": must be IP:port or name:port, e.g. 10.0.0.5:8080 or api.internal:8080"
        ),
        format!("{file}:5:17 backends[0].endpoints[0].weight: must be between 1 and 10000"),
        format!("{file}:9:16 listeners[0].policies[0]: unknown policy \"office\""),
        format!("{file}:13:23 routes[0].match.path.prefix: path \"api\" must start with \"/\""),
        format!("{file}:14:14 routes[0].backend: unknown backend \"api-v2\""),
        "5 error(s)".to_owned(),
    ];
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines, expected, "stderr:\n{stderr}");
}

#[test]
fn shape_errors_point_at_the_key_or_value() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // An unknown field points at its key.
        (
            "server:\n  shutdown_grace: 5s\n  trusted_proxy: [10.0.0.0/8]\n",
            "3:3 server.trusted_proxy: unknown field `trusted_proxy`",
        ),
        // A duration needs a unit.
        (
            "server:\n  shutdown_grace: 10\n",
            "2:19 server.shutdown_grace: invalid type: integer `10`, expected a string",
        ),
        (
            "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n    proxy_protocol: maybe\n",
            "4:21 listeners[0].proxy_protocol: unknown variant `maybe`",
        ),
    ];
    for (i, (yaml, want)) in cases.into_iter().enumerate() {
        let path = write(&dir, &format!("case{i}.yaml"), yaml);
        let out = validate(&path);
        assert_eq!(out.status.code(), Some(1), "case {i}");
        let stderr = text(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        let prefix = format!("{}:{want}", path.display());
        assert!(
            first.starts_with(&prefix),
            "case {i}: got {first:?}, want prefix {prefix:?}"
        );
        assert_eq!(stderr.lines().last(), Some("1 error(s)"), "case {i}");
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("does-not-exist.yaml");
    let out = validate(&path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{} cannot read configuration: ", path.display())),
        "{stderr}"
    );
    assert!(first.contains("No such file or directory"), "{stderr}");
}

#[test]
fn version_flag_prints_the_version() {
    let out = portcullis(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("portcullis {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Everything `run` refuses at start about `admin`, `validate` refuses too,
/// with a position: both go through the same check.
#[test]
fn validate_refuses_what_run_refuses_about_admin() {
    let dir = tempfile::tempdir().unwrap();
    let short = write(&dir, "short-token", "tooshort\n");
    let cases = [
        ("admin:\n  address: 0.0.0.0:19901\n", "2:12 admin.address"),
        (
            "admin:\n  address: 0.0.0.0:19901\n  token_file: /nonexistent/token\n",
            "3:15 admin.token_file",
        ),
        (
            &format!(
                "admin:\n  address: 0.0.0.0:19901\n  token_file: {}\n",
                short.display()
            ),
            "3:15 admin.token_file",
        ),
        (
            "admin:\n  address: 127.0.0.1:18080\nlisteners:\n  - name: web\n    address: 127.0.0.1:18080\n",
            "2:12 admin.address",
        ),
    ];
    for (i, (yaml, want)) in cases.iter().enumerate() {
        let path = write(&dir, &format!("admin{i}.yaml"), yaml);
        let out = validate(&path);
        assert_eq!(out.status.code(), Some(1), "{yaml}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("{}:{want}", path.display())),
            "{yaml}: {err}"
        );
        // `run` refuses the same file, before binding anything.
        let run = portcullis(&["run", "--config", path.to_str().unwrap()]);
        assert_ne!(run.status.code(), Some(0), "{yaml}");
    }
}
