//! Offline translation goldens: Kubernetes objects in
//! (`tests/golden/k8s/NAME.yaml`), the report and the Portcullis model out
//! (`NAME.golden`). `PORTCULLIS_UPDATE_GOLDEN=1` rewrites the goldens; review
//! the diff. Also: the migrate command's output is a config that loads.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis::provider::kube::index::Index;
use portcullis::provider::kube::migrate;
use portcullis::provider::kube::translate::{self, Settings};

fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

#[test]
fn translations_match_their_goldens() {
    let update = std::env::var_os("PORTCULLIS_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for input in inputs() {
        let mut index = Index::default();
        let ignored = index
            .load_yaml(&std::fs::read_to_string(&input).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        assert!(ignored.is_empty(), "{ignored:?}");
        let translation = translate::translate(&index, &Settings::default())
            .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        // Whatever the objects, the value is a valid config.
        let issues = portcullis::config::validate::validate(&translation.loaded.config);
        assert!(issues.is_empty(), "{}: {issues:?}", input.display());
        let text = migrate::render(&translation).unwrap();
        let golden = input.with_extension("golden");
        if update {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == text => {}
            Ok(expected) => failures.push(format!(
                "{}: differs from {}\n--- expected\n{expected}\n--- got\n{text}",
                input.display(),
                golden.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing; run with PORTCULLIS_UPDATE_GOLDEN=1",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn migrate_prints_the_report_and_a_config_that_loads() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/k8s/annotations.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["migrate", "ingress-nginx"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "prod/Ingress/snippet nginx.ingress.kubernetes.io/configuration-snippet: refused"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "prod/Ingress/api nginx.ingress.kubernetes.io/whitelist-source-range: converted"
        ),
        "{text}"
    );
    // Backends reach the Service by its cluster DNS name.
    assert!(text.contains("api.prod.svc:80"), "{text}");
    let config = portcullis::config::load::load_str(&text, "migrated.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(config.routes.iter().any(|r| r.name == "prod.api.r0.p0"));
    assert!(
        config
            .policies
            .iter()
            .any(|p| p.name == "prod.api.rate-limit" && p.rate_limit.is_some())
    );
}

#[test]
fn migrate_refuses_a_missing_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["migrate", "ingress-nginx", "/nonexistent/ingresses.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ingresses.yaml"));
}

#[test]
fn portcullis_policies_annotation_attaches_base_policies() {
    let mut index = Index::default();
    index
        .load_yaml(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: a\n  annotations: {portcullis.dev/policies: \"office, audit\"}\nspec:\n  ingressClassName: portcullis\n  rules:\n    - host: web.example.com\n      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}\n",
        )
        .unwrap();
    let base = portcullis::config::load::load_str(
        "policies:\n  - name: office\n    ip_filter: {allow: [10.0.0.0/8]}\n  - name: audit\n    ip_filter: {deny: [192.0.2.0/24]}\n",
        "base.yaml",
    )
    .unwrap();
    let settings = Settings {
        base,
        ..Settings::default()
    };
    let t = translate::translate(&index, &settings).unwrap();
    let route = t
        .loaded
        .config
        .routes
        .iter()
        .find(|r| r.name == "a.web.r0.p0")
        .unwrap();
    assert_eq!(route.policies, ["office", "audit"]);
    // Without the policies in the base, the Ingress is skipped and fails closed.
    let t = translate::translate(&index, &Settings::default()).unwrap();
    assert!(
        t.report.skipped().any(|o| o.name == "web"),
        "{:?}",
        t.report
    );
    let names: Vec<&str> = t
        .loaded
        .config
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["a.web.fail-closed.0"]);
}

#[test]
fn the_kubernetes_example_translates_with_its_base() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut index = Index::default();
    index
        .load_yaml(&std::fs::read_to_string(dir.join("kubernetes/ingress.yaml")).unwrap())
        .unwrap();
    let base = portcullis::config::load::load_file(&dir.join("kubernetes-base.yaml")).unwrap();
    let settings = Settings {
        base,
        service_dns: true,
        ..Settings::default()
    };
    let t = translate::translate(&index, &settings).unwrap();
    // The Secret is not in the input: reported; the hosts serve without it.
    assert!(
        t.report
            .findings
            .iter()
            .any(|f| f.subject == "spec.tls[0].secretName"
                && f.outcome == portcullis::provider::kube::report::Outcome::Skipped)
    );
    let route = t
        .loaded
        .config
        .routes
        .iter()
        .find(|r| r.name == "shop.shop.r0.p0")
        .unwrap();
    assert_eq!(
        route.policies,
        [
            "shop.shop.ip-filter",
            "shop.shop.rate-limit",
            "per-client-limit"
        ]
    );
    assert_eq!(route.backend.as_deref(), Some("shop.shop.web.80"));
}

fn tls_secret(index: &mut Index, name: &str, cert: &str, key: &str) {
    use k8s_openapi::ByteString;
    let mut secret = k8s_openapi::api::core::v1::Secret::default();
    secret.metadata.name = Some(name.into());
    secret.metadata.namespace = Some("a".into());
    secret.type_ = Some("kubernetes.io/tls".into());
    secret.data = Some(
        [
            ("tls.crt".to_owned(), ByteString(cert.as_bytes().to_vec())),
            ("tls.key".to_owned(), ByteString(key.as_bytes().to_vec())),
        ]
        .into(),
    );
    index.secrets.insert(("a".into(), name.into()), secret);
}

#[test]
fn tls_secrets_serve_as_inline_pem_and_a_mismatched_key_is_skipped() {
    let good = rcgen::generate_simple_self_signed(vec!["good.example.com".into()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["other.example.com".into()]).unwrap();
    let ingress = |name: &str, host: &str, secret: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: a}}\nspec:\n  ingressClassName: portcullis\n  tls: [{{hosts: [{host}], secretName: {secret}}}]\n  rules:\n    - host: {host}\n      http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}\n"
        )
    };
    let mut index = Index::default();
    tls_secret(
        &mut index,
        "good",
        &good.cert.pem(),
        &good.signing_key.serialize_pem(),
    );
    tls_secret(
        &mut index,
        "mismatch",
        &good.cert.pem(),
        &other.signing_key.serialize_pem(),
    );
    let yaml = [
        ingress("one", "good.example.com", "good"),
        ingress("two", "bad.example.com", "mismatch"),
    ]
    .join("---\n");
    index.load_yaml(&yaml).unwrap();
    let t = translate::translate(&index, &Settings::default()).unwrap();
    let mismatch = t
        .report
        .findings
        .iter()
        .find(|f| f.object.name == "two" && f.subject == "spec.tls[0].secretName")
        .unwrap_or_else(|| panic!("the mismatched Secret is not reported: {:?}", t.report));
    assert!(mismatch.detail.contains("does not match"), "{mismatch}");
    let https = t
        .loaded
        .config
        .listeners
        .iter()
        .find(|l| l.name == "https")
        .expect("https listener");
    let certs = &https.tls.as_ref().unwrap().certificates;
    assert_eq!(certs.len(), 1);
    assert!(certs[0].cert.starts_with("-----BEGIN CERTIFICATE-----"));
    // The whole value compiles: the inline PEM loads.
    portcullis::config::compile::compile(
        t.loaded.config,
        None,
        &portcullis::observe::access_log::AccessLog::disabled(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
}
