//! YAML → `serde_json::Value` with a path → (line, column) index, bounded against hostile input.
//!
//! We drive yaml-rust2's event parser ourselves (pull-style) instead of using
//! its `Yaml` tree so that every node keeps its source position, duplicate keys
//! are rejected, scalars follow the YAML 1.2 core schema, and alias expansion
//! and nesting are bounded before they can exhaust memory or the stack.

use std::collections::HashMap;

use serde_json::Value;
use yaml_rust2::scanner::Marker;

use crate::config::yaml_builder::Builder;

/// Deepest nesting accepted, counting alias expansions.
pub const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases and anchors included).
pub const MAX_NODES: usize = 1_000_000;
/// Most scalar bytes a document may expand to (aliases and anchors included).
pub const MAX_SCALAR_BYTES: usize = 64 << 20;

/// A 1-based source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub(crate) fn from_marker(m: &Marker) -> Self {
        // yaml-rust2 lines are 1-based, columns 0-based.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

/// Where each path of the document was written. Paths look like
/// `routes[2].backend`; the root is `""`.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    pub(crate) keys: HashMap<String, Pos>,
    pub(crate) values: HashMap<String, Pos>,
}

impl Positions {
    /// Position of the mapping key that introduces `path`.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied()
    }

    /// Position of the value at `path`.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values.get(path).copied()
    }

    /// The value position of `path`, else of its nearest written ancestor
    /// (fields left at their defaults have no position of their own).
    pub fn locate(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.value(p).or_else(|| self.key(p)) {
                return Some(pos);
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }
}

/// `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
pub fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Appends a mapping key to a path.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A parsed document: the value (an empty mapping for an empty document) and positions.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub positions: Positions,
}

/// A syntax or structure error; `field` is the path where it was found, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub field: String,
    pub message: String,
}

impl YamlError {
    pub(crate) fn at(mark: &Marker, field: &str, message: impl Into<String>) -> Self {
        YamlError {
            pos: Some(Pos::from_marker(mark)),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Parses one YAML document. Never panics: a panic inside the YAML library is
/// turned into an error as a last line of defence.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    check_printable(text)?;
    std::panic::catch_unwind(|| Builder::default().run(text)).unwrap_or_else(|_| {
        Err(YamlError {
            pos: None,
            field: String::new(),
            message: "internal error in the YAML parser".to_owned(),
        })
    })
}

/// YAML allows only printable characters (plus tab and line breaks); the
/// parser would otherwise stop silently at a NUL and accept a truncated file.
fn check_printable(text: &str) -> Result<(), YamlError> {
    let mut line = 1;
    let mut column = 1;
    for c in text.chars() {
        let printable = matches!(c, '\t' | '\n' | '\r' | '\u{85}')
            || (!c.is_control() && !matches!(c, '\u{fffe}' | '\u{ffff}'));
        if !printable {
            return Err(YamlError {
                pos: Some(Pos { line, column }),
                field: String::new(),
                message: format!("non-printable character U+{:04X}", u32::from(c)),
            });
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let doc = parse("a:\n  - x: 1\n    y: [2, 3]\n").expect("valid");
        let p = &doc.positions;
        assert_eq!(p.key("a[0].y"), Some(Pos { line: 3, column: 5 }));
        assert_eq!(p.value("a[0].y"), Some(Pos { line: 3, column: 8 }));
        assert_eq!(
            p.value("a[0].y[1]"),
            Some(Pos {
                line: 3,
                column: 12
            })
        );
        assert_eq!(p.value("a[0]"), Some(Pos { line: 2, column: 5 }));
        // A defaulted field falls back to its nearest written ancestor.
        assert_eq!(p.locate("a[0].z.w"), Some(Pos { line: 2, column: 5 }));
    }

    #[test]
    fn nul_is_rejected() {
        let e = parse("a: 1\nb: \0").expect_err("NUL");
        assert_eq!(e.pos, Some(Pos { line: 2, column: 4 }));
    }
}
