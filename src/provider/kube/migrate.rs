//! `portcullis migrate ingress-nginx FILE…`: Ingress YAML in (as `kubectl
//! get ingress -A -o yaml` prints it, optionally with the Services and TLS
//! Secrets), the per-annotation report and the Portcullis config out. No
//! cluster needed: backends reach Services by their cluster DNS names.

use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlEmitter};

use crate::provider::kube::index::Index;
use crate::provider::kube::report::Report;
use crate::provider::kube::translate::{self, Settings, Translation};

/// Translates the objects in `files`.
pub fn translate_files(files: &[PathBuf]) -> Result<Translation, String> {
    let mut index = Index::default();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let ignored = index
            .load_yaml(&text)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for kind in ignored {
            eprintln!("{}: ignoring a {kind:?} object", file.display());
        }
    }
    let settings = Settings {
        any_class: true,
        service_dns: true,
        ..Settings::default()
    };
    translate::translate(&index, &settings).map_err(|e| e.to_string())
}

/// The report as YAML comments, then the config as YAML.
pub fn render(translation: &Translation) -> Result<String, String> {
    let mut out = render_report(&translation.report);
    let value = serde_json::to_value(&translation.loaded.config).map_err(|e| e.to_string())?;
    let mut yaml = String::new();
    YamlEmitter::new(&mut yaml)
        .dump(&to_yaml(value))
        .map_err(|e| e.to_string())?;
    out.push_str(&yaml);
    out.push('\n');
    Ok(out)
}

pub fn render_report(report: &Report) -> String {
    let mut out = String::from("# portcullis migrate ingress-nginx: one line per finding\n");
    for finding in &report.findings {
        out.push_str(&format!("# {finding}\n"));
    }
    if report.findings.is_empty() {
        out.push_str("# (no annotations to report)\n");
    }
    out
}

fn to_yaml(value: serde_json::Value) -> Yaml {
    use serde_json::Value;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s),
        Value::Array(a) => Yaml::Array(a.into_iter().map(to_yaml).collect()),
        // Unset optional fields are left out: the output is for people.
        Value::Object(o) => Yaml::Hash(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Yaml::String(k), to_yaml(v)))
                .collect(),
        ),
    }
}
