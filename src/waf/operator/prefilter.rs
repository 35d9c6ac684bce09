//! Literals a regex match must contain, for the engine's aho-corasick prefilter.
//!
//! Uses `regex-syntax`'s literal extractor: every match starts with one of the prefix
//! literals (or ends with one of the suffix literals). The set is returned lowercase for an
//! ASCII case-insensitive search, which only widens it (still sound).

use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

/// Shorter literals hit almost every value: not worth a prefilter.
const MIN_LITERAL_LEN: usize = 3;

pub fn regex_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = ParserBuilder::new()
        .dot_matches_new_line(true)
        .multi_line(true)
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let best = [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| usable(Extractor::new().kind(kind).extract(&hir)))
        .max_by_key(|literals| literals.iter().map(Vec::len).min().unwrap_or(0))?;
    Some(best)
}

fn usable(seq: Seq) -> Option<Vec<Vec<u8>>> {
    let literals = seq.literals()?;
    let mut lowered: Vec<Vec<u8>> = literals
        .iter()
        .map(|lit| lit.as_bytes().to_ascii_lowercase())
        .collect();
    if lowered.is_empty() || lowered.iter().any(|lit| lit.len() < MIN_LITERAL_LEN) {
        return None;
    }
    lowered.sort();
    lowered.dedup();
    Some(lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(pattern: &str, literal: &[u8]) -> bool {
        regex_literals(pattern).is_some_and(|lits| lits.iter().any(|l| l == literal))
    }

    #[test]
    fn extracts_alternations_and_case_folds() {
        assert!(has("(?i)(?:union|select)\\s+", b"union"));
        assert!(has("(?i)(?:union|select)\\s+", b"select"));
        assert!(has("[a-z]*\\.php$", b".php"));
    }

    #[test]
    fn none_when_a_match_needs_no_literal() {
        assert_eq!(regex_literals("^.*$"), None);
        assert_eq!(regex_literals("[a-z]+"), None);
        assert_eq!(regex_literals("a|bcd"), None);
        assert_eq!(regex_literals("(unclosed"), None);
    }

    #[test]
    fn every_literal_set_is_sound_for_its_regex() {
        // A literal set is sound when every match contains one of the literals.
        let pattern = "(?i)<script[^>]*>|javascript:";
        let literals = regex_literals(pattern).unwrap();
        let rx = regex::bytes::Regex::new(pattern).unwrap();
        for input in [
            &b"<SCRIPT src=x>"[..],
            b"JavaScript:alert(1)",
            b"x <script>",
        ] {
            assert!(rx.is_match(input));
            let lower = input.to_ascii_lowercase();
            assert!(
                literals
                    .iter()
                    .any(|lit| lower.windows(lit.len()).any(|w| w == lit.as_slice()))
            );
        }
    }
}
