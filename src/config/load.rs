//! Loading a configuration document: YAML → model, with positioned errors.

use std::path::Path;

use serde_path_to_error::Segment;

use crate::config::error::{ConfigError, ConfigErrors};
use crate::config::spec::GatewayConfig;
use crate::config::validate;
use crate::config::yaml::{self, Pos, Positions, join_key};
use crate::provider::{Loaded, Origins};

/// Reads, parses and validates `path`. Errors name the file as given.
pub fn load_file(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
    load_file_document(path).map(|loaded| loaded.config)
}

/// Parses and validates `text`; `file` labels the errors. Relative file
/// paths in it stay relative to the working directory.
pub fn load_str(text: &str, file: &str) -> Result<GatewayConfig, ConfigErrors> {
    load_document(text, file).map(|loaded| loaded.config)
}

/// [`load_file`], keeping the position index for later errors.
pub fn load_file_document(path: &Path) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: None,
            column: None,
            field: String::new(),
            message: format!("cannot read configuration: {e}"),
        }])
    })?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    load_with_base(&text, &file, Some(base))
}

/// [`load_str`], keeping the position index for later errors.
pub fn load_document(text: &str, file: &str) -> Result<Loaded, ConfigErrors> {
    load_with_base(text, file, None)
}

/// Parses and validates `text`; relative certificate, key, CA and token
/// paths are resolved against `base` (the config file's directory) first,
/// so the same file works whatever directory the gateway starts in.
fn load_with_base(text: &str, file: &str, base: Option<&Path>) -> Result<Loaded, ConfigErrors> {
    let error = |pos: Option<Pos>, field: String, message: String| ConfigError {
        file: file.to_owned(),
        line: pos.map(|p| p.line),
        column: pos.map(|p| p.column),
        field,
        message,
    };

    let doc =
        yaml::parse(text).map_err(|e| ConfigErrors(vec![error(e.pos, e.field, e.message)]))?;

    // Serde would read a top-level list as a struct's fields in order.
    if !doc.value.is_object() {
        let pos = doc.positions.value("");
        let message = "the document must be a mapping (admin, server, listeners, routes, ...)";
        return Err(ConfigErrors(vec![error(
            pos,
            String::new(),
            message.to_owned(),
        )]));
    }

    let mut cfg: GatewayConfig = serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        let (field, pos, message) = locate_serde_error(&e, &doc.positions);
        ConfigErrors(vec![error(pos, field, message)])
    })?;
    if let Some(base) = base {
        crate::config::paths::resolve_relative(&mut cfg, base);
    }

    let mut errors: Vec<ConfigError> = validate::validate(&cfg)
        .into_iter()
        .map(|issue| {
            let pos = doc.positions.locate(&issue.field);
            error(pos, issue.field, issue.message)
        })
        .collect();
    if errors.is_empty() {
        return Ok(Loaded {
            config: cfg,
            origins: Origins::File {
                file: file.to_owned(),
                positions: doc.positions,
            },
        });
    }
    // Validation walks the model; report in the order the user wrote things.
    // The sort is stable and errors without a position go last.
    errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
    Err(ConfigErrors(errors))
}

/// Field path, position and message for a deserialization error.
fn locate_serde_error(
    e: &serde_path_to_error::Error<serde_json::Error>,
    positions: &Positions,
) -> (String, Option<Pos>, String) {
    let path = path_string(e.path());
    let message = e.inner().to_string();
    if let Some(name) = unknown_field_name(&message) {
        // Point at the offending key, not at its value or the parent mapping.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            join_key(&path, name)
        };
        let pos = positions.key(&field).or_else(|| positions.locate(&path));
        return (field, pos, message);
    }
    let pos = positions.locate(&path);
    (path, pos, message)
}

/// `unknown field `x`, expected ...` → `x`.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.find('`').map(|end| &rest[..end])
}

/// Renders a serde path in our syntax: `routes[2].match.path`, root = "".
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => out = join_key(&out, key),
            Segment::Enum { variant } => out = join_key(&out, variant),
            Segment::Unknown => out = join_key(&out, "?"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_points_at_key() {
        let text = "admin:\n  address: 127.0.0.1:1\n  bogus: 1\n";
        let errs = load_str(text, "g.yaml").unwrap_err();
        assert_eq!(errs.0.len(), 1);
        let e = &errs.0[0];
        assert_eq!(e.field, "admin.bogus");
        assert_eq!((e.line, e.column), (Some(3), Some(3)));
        assert!(e.message.starts_with("unknown field `bogus`"), "{e}");
    }

    #[test]
    fn type_error_points_at_value() {
        let text = "server:\n  access_log: maybe\n";
        let errs = load_str(text, "g.yaml").unwrap_err();
        let e = &errs.0[0];
        assert_eq!(e.field, "server.access_log");
        assert_eq!((e.line, e.column), (Some(2), Some(15)));
        assert!(e.message.contains("expected a boolean"), "{e}");
    }

    #[test]
    fn root_must_be_a_mapping() {
        for text in ["- a\n", "hello\n", "42\n"] {
            let errs = load_str(text, "g.yaml").unwrap_err();
            assert!(
                errs.0[0]
                    .message
                    .starts_with("the document must be a mapping"),
                "{errs}"
            );
            assert_eq!(errs.0[0].line, Some(1));
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let errs = load_file(Path::new("/nonexistent/portcullis.yaml")).unwrap_err();
        let e = &errs.0[0];
        assert_eq!(e.file, "/nonexistent/portcullis.yaml");
        assert_eq!(e.line, None);
        assert!(e.message.starts_with("cannot read configuration"), "{e}");
    }

    #[test]
    fn path_string_matches_index_syntax() {
        let v = serde_json::json!({"routes": [{"name": "a"}, {"name": 5}]});
        let e = serde_path_to_error::deserialize::<_, GatewayConfig>(&v).unwrap_err();
        assert_eq!(path_string(e.path()), "routes[1].name");
    }
}
