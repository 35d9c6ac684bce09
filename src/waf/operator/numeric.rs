//! `@eq @ne @lt @le @gt @ge`: integer comparisons, both sides read like C `atoi`
//! (leading spaces, optional sign, digits; anything else reads as 0), as ModSecurity does.

use super::{Captures, Operator};

#[derive(Debug, Clone, Copy)]
pub enum Relation {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub struct Compare {
    relation: Relation,
    value: i64,
}

impl Compare {
    pub fn new(relation: Relation, param: &str) -> Self {
        Self {
            relation,
            value: atoi(param.as_bytes()),
        }
    }
}

impl Operator for Compare {
    fn evaluate(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        let right = expanded.map_or(self.value, |text| atoi(text.as_bytes()));
        let left = atoi(input);
        match self.relation {
            Relation::Eq => left == right,
            Relation::Ne => left != right,
            Relation::Lt => left < right,
            Relation::Le => left <= right,
            Relation::Gt => left > right,
            Relation::Ge => left >= right,
        }
    }
}

/// C `atoi`, saturating instead of undefined on overflow.
pub fn atoi(text: &[u8]) -> i64 {
    let mut rest = text;
    while let [first, tail @ ..] = rest {
        if !matches!(first, b' ' | b'\t'..=b'\r') {
            break;
        }
        rest = tail;
    }
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'-' | b'+')) {
        rest = &rest[1..];
    }
    let mut value: i64 = 0;
    for &byte in rest.iter().take_while(|b| b.is_ascii_digit()) {
        value = value
            .saturating_mul(10)
            .saturating_add(i64::from(byte - b'0'));
    }
    if negative { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_atoi() {
        assert_eq!(atoi(b"  42abc"), 42);
        assert_eq!(atoi(b"-7"), -7);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn compares_with_compiled_or_expanded_value() {
        let ge = Compare::new(Relation::Ge, "%{tx.inbound_anomaly_score_threshold}");
        assert!(ge.evaluate(b"5", Some("5"), None));
        assert!(!ge.evaluate(b"4", Some("5"), None));
        let lt = Compare::new(Relation::Lt, "2");
        assert!(lt.evaluate(b"1", None, None));
        assert!(!lt.evaluate(b"2", None, None));
        assert!(Compare::new(Relation::Eq, "0").evaluate(b"", None, None));
        assert!(Compare::new(Relation::Ne, "0").evaluate(b"3", None, None));
        assert!(Compare::new(Relation::Le, "3").evaluate(b"3", None, None));
        assert!(Compare::new(Relation::Gt, "3").evaluate(b"4", None, None));
    }
}
