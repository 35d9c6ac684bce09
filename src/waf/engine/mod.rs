//! The SecLang engine: a compiled, immutable rule set shared by all
//! requests, and the per-request `Transaction` that runs it phase by phase.

mod body_vars;
pub mod collect;
pub mod data;
mod eval;
mod fast_hash;
pub mod state;
pub mod transaction;

pub use data::Connection;
pub use transaction::Transaction;

use crate::waf::body::BodyLimits;
use crate::waf::rule::{RuleSet, RuleSetBuilder};
use crate::waf::seclang::{self, ParseError};
use crate::waf::transform::{self, Transform};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a transaction must stop, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervention {
    pub rule_id: u32,
    pub status: u16,
    /// `drop`: close the connection without an answer.
    pub drop: bool,
    pub phase: u8,
}

/// A rule whose whole chain matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u32,
    pub phase: u8,
    pub message: String,
    pub data: String,
    /// The variable that matched last (e.g. `ARGS:q`), so a log can redact
    /// data taken from a credential.
    pub variable: String,
    pub severity: Option<u8>,
    /// `false` for `nolog` rules (bookkeeping, not detections).
    pub logged: bool,
    /// The rule's own action was deny/drop (whether or not the engine enforced it).
    pub disruptive: bool,
}

/// Where rules come from: SecLang text (named for errors) or a file / glob.
#[derive(Debug, Clone)]
pub enum RuleSource {
    Text { name: PathBuf, text: String },
    Files(PathBuf),
}

/// Cheap to clone: the rule set is shared.
#[derive(Debug, Clone)]
pub struct Engine {
    pub rules: Arc<RuleSet>,
    pub(crate) url_decode: Transform,
}

impl Engine {
    /// Loads sources in order into one rule set; the first error names file:line.
    pub fn load(sources: &[RuleSource]) -> Result<Self, ParseError> {
        let mut builder = RuleSetBuilder::new();
        for source in sources {
            match source {
                RuleSource::Text { name, text } => {
                    let file: Arc<Path> = Arc::from(name.as_path());
                    builder.add_all(&seclang::directives(text, &file)?)?;
                }
                RuleSource::Files(pattern) => {
                    let files = seclang::expand_include(pattern).map_err(|message| ParseError {
                        file: Arc::from(pattern.as_path()),
                        line: 0,
                        message,
                    })?;
                    for file in files {
                        builder.add_all(&seclang::parse_file(&file)?)?;
                    }
                }
            }
        }
        let rules = builder.finish()?;
        let url_decode = transform::lookup("urlDecode").ok_or_else(|| ParseError {
            file: Arc::from(Path::new("<engine>")),
            line: 0,
            message: "transformation urlDecode is missing".into(),
        })?;
        Ok(Self {
            rules: Arc::new(rules),
            url_decode,
        })
    }

    pub fn transaction(&self, conn: Connection) -> Transaction {
        let unique_id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        Transaction::new(self.clone(), conn, unique_id)
    }

    pub(crate) fn body_limits(&self) -> BodyLimits {
        let s = &self.rules.settings;
        BodyLimits {
            max_args: s.arguments_limit,
            json_depth: s.json_depth_limit,
            xml_depth: s.json_depth_limit,
            max_part_header_bytes: 8192,
        }
    }
}

#[cfg(test)]
mod tests;
