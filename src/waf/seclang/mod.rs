//! SecLang parsing: files → directives → targets and actions, all as written.
//! Meaning (defaults, chains, markers, compiled operators) is given by `waf::rule`.

pub mod actions;
pub mod lexer;
pub mod variables;

pub use actions::{ActionSpec, parse_actions};
pub use lexer::{Directive, directives};
pub use variables::{SelectorSpec, TargetSpec, parse_targets};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A rule-file error with the file and the 1-based line of the directive.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub file: Arc<Path>,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Reads and splits one rule file, following `Include` directives (relative
/// to the including file, glob `*` in the last component) up to a fixed depth.
pub fn parse_file(path: &Path) -> Result<Vec<Directive>, ParseError> {
    let mut out = Vec::new();
    parse_into(path, 0, &mut out)?;
    Ok(out)
}

const MAX_INCLUDE_DEPTH: usize = 8;

fn parse_into(path: &Path, depth: usize, out: &mut Vec<Directive>) -> Result<(), ParseError> {
    let file: Arc<Path> = Arc::from(path);
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    for directive in directives(&text, &file)? {
        if !directive.name.eq_ignore_ascii_case("Include") {
            out.push(directive);
            continue;
        }
        let error = |message: String| ParseError {
            file: file.clone(),
            line: directive.line,
            message,
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(error("Include nested too deeply".into()));
        }
        let [pattern] = directive.args.as_slice() else {
            return Err(error("Include takes one path".into()));
        };
        let base = path.parent().unwrap_or(Path::new("."));
        for included in expand_include(&base.join(pattern)).map_err(error)? {
            parse_into(&included, depth + 1, out)?;
        }
    }
    Ok(())
}

/// `dir/*.conf` → the matching files in name order; a plain path → itself.
pub fn expand_include(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return Ok(vec![pattern.to_path_buf()]);
    };
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(prefix)
                    && n.ends_with(suffix)
                    && n.len() >= prefix.len() + suffix.len()
            })
        })
        .collect();
    files.sort();
    Ok(files)
}
