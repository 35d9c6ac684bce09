//! Literals a regex match must contain, for the engine's aho-corasick prefilter.
//!
//! Uses `regex-syntax`'s literal extractor: every match starts with one of the prefix
//! literals (or ends with one of the suffix literals). The set is returned lowercase for an
//! ASCII case-insensitive search, which only widens it (still sound).

use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Shorter literals hit almost every value: not worth a prefilter.
const MIN_LITERAL_LEN: usize = 3;

fn parse(pattern: &str) -> Option<Hir> {
    ParserBuilder::new()
        .dot_matches_new_line(true)
        .multi_line(true)
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
}

pub fn regex_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = parse(pattern)?;
    let best = [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| usable(Extractor::new().kind(kind).extract(&hir)))
        .max_by_key(|literals| literals.iter().map(Vec::len).min().unwrap_or(0))?;
    Some(best)
}

/// A set of bytes: one of them is in every match of a regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: Self = Self([0; 4]);

    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn union(mut self, other: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        self
    }

    /// Whether `input` holds one of the bytes.
    pub fn found_in(&self, input: &[u8]) -> bool {
        input.iter().any(|&b| self.contains(b))
    }

    /// How often the set is expected to hit ordinary text (lower is a
    /// better filter): letters, digits and spaces are everywhere.
    fn commonness(&self) -> u32 {
        (0..=255u8)
            .filter(|&b| self.contains(b))
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => 10,
                b' ' => 8,
                b'.' | b'-' | b'_' | b'/' | b'=' | b'&' | b',' => 5,
                _ => 1,
            })
            .sum()
    }
}

/// Bytes one of which every match of `pattern` (bytes mode, as `@rx` compiles
/// it) contains; `None` when a match can be empty or made of anything.
pub fn required_bytes(pattern: &str) -> Option<ByteSet> {
    let set = required(&parse(pattern)?)?;
    // A set holding most letters passes nearly every value: not worth a scan.
    (set.commonness() < 200).then_some(set)
}

fn required(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(lit) => lit
            .0
            .iter()
            .map(|&b| single(b))
            .min_by_key(ByteSet::commonness),
        HirKind::Class(Class::Bytes(class)) => {
            let mut set = ByteSet::EMPTY;
            for range in class.iter() {
                for b in range.start()..=range.end() {
                    set.insert(b);
                }
            }
            Some(set)
        }
        // Bytes mode never yields Unicode classes; stay sound if it does.
        HirKind::Class(Class::Unicode(_)) => None,
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Concat(subs) => subs
            .iter()
            .filter_map(required)
            .min_by_key(ByteSet::commonness),
        HirKind::Alternation(subs) => subs
            .iter()
            .map(required)
            .try_fold(ByteSet::EMPTY, |acc, set| Some(acc.union(set?))),
    }
}

fn single(b: u8) -> ByteSet {
    let mut set = ByteSet::EMPTY;
    set.insert(b);
    set
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

    fn bytes_of(pattern: &str) -> Option<Vec<u8>> {
        required_bytes(pattern).map(|set| (0..=255u8).filter(|&b| set.contains(b)).collect())
    }

    #[test]
    fn required_bytes_pick_the_rarest_and_stay_sound() {
        assert_eq!(bytes_of("(?i)<script"), Some(b"<".to_vec()));
        assert_eq!(bytes_of("a'|b\""), Some(b"\"'".to_vec()));
        assert_eq!(bytes_of("(?:x;)+"), Some(b";".to_vec()));
        // A match may be empty, or any alternative may lack the byte: no set.
        assert_eq!(bytes_of("(?:<)?x*"), None);
        assert_eq!(bytes_of("<|^"), None);
        assert_eq!(bytes_of("(?s)."), None);
        assert!(required_bytes("[a-z]+").is_none());
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
