//! `@pm` and `@pmFromFile`: ASCII case-insensitive multi-phrase search (aho-corasick).
//!
//! `@pm` phrases are separated by whitespace; `@pmFromFile` reads one phrase per line
//! from each space-separated file. With `capture`, TX.0 is the phrase found.

use super::{Captures, Operator, data_file_lines};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::path::Path;

#[derive(Debug)]
pub struct Pm {
    matcher: AhoCorasick,
    phrases: Vec<Vec<u8>>,
}

impl Pm {
    pub fn from_param(param: &str) -> Result<Self, String> {
        Self::build(param.split_whitespace().map(str::to_owned).collect(), "@pm")
    }

    pub fn from_files(param: &str, rules_dir: &Path) -> Result<Self, String> {
        let mut phrases = Vec::new();
        for file in param.split_whitespace() {
            phrases.extend(data_file_lines(file, rules_dir)?);
        }
        Self::build(phrases, "@pmFromFile")
    }

    fn build(phrases: Vec<String>, operator: &str) -> Result<Self, String> {
        if phrases.is_empty() {
            return Err(format!("{operator}: no phrases"));
        }
        let phrases: Vec<Vec<u8>> = phrases
            .into_iter()
            .map(|p| p.into_bytes().to_ascii_lowercase())
            .collect();
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(&phrases)
            .map_err(|e| format!("{operator}: {e}"))?;
        Ok(Self { matcher, phrases })
    }
}

impl Operator for Pm {
    fn evaluate(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        captures: Option<&mut Captures>,
    ) -> bool {
        if let Some(text) = expanded {
            // Phrases from macros: rare, so built per evaluation.
            return Self::from_param(text).is_ok_and(|pm| pm.evaluate(input, None, captures));
        }
        let Some(found) = self.matcher.find(input) else {
            return false;
        };
        if let Some(captures) = captures {
            captures[0] = Some(input[found.range()].to_vec());
        }
        true
    }

    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        Some(self.phrases.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_any_phrase_case_insensitively() {
        let pm = Pm::from_param("document.cookie  document.write ?>").unwrap();
        assert!(pm.evaluate(b"x=DOCUMENT.Cookie", None, None));
        assert!(pm.evaluate(b"<?php ?>", None, None));
        assert!(!pm.evaluate(b"document", None, None));
        let mut captures: Captures = Default::default();
        assert!(pm.evaluate(b"a document.WRITE(", None, Some(&mut captures)));
        assert_eq!(captures[0].as_deref(), Some(&b"document.WRITE"[..]));
        assert!(Pm::from_param("  ").is_err());
    }

    #[test]
    fn reads_phrase_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.data"),
            "# comment\n/etc/passwd\n.htaccess\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.data"), "boot.ini\n").unwrap();
        let pm = Pm::from_files("a.data b.data", dir.path()).unwrap();
        assert!(pm.evaluate(b"../../ETC/PASSWD", None, None));
        assert!(pm.evaluate(b"c:/boot.ini", None, None));
        assert!(!pm.evaluate(b"# comment", None, None));
        assert!(
            Pm::from_files("nope.data", dir.path())
                .unwrap_err()
                .contains("nope.data")
        );
    }

    #[test]
    fn loads_every_crs_data_file() {
        let rules = crate::waf::operator::tests_support::crs_rules_dir();
        for entry in std::fs::read_dir(&rules).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".data") {
                Pm::from_files(&name, &rules).unwrap();
            }
        }
        let unix = Pm::from_files("unix-shell.data", &rules).unwrap();
        assert!(unix.evaluate(b"cat /etc/passwd", None, None));
    }
}
