//! `@streq @contains @containsWord @beginsWith @endsWith @within @strmatch`: byte-exact,
//! case-sensitive string tests, against the compiled or the macro-expanded parameter.

use super::{Captures, Operator};
use memchr::memmem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Equals,
    Contains,
    ContainsWord,
    BeginsWith,
    EndsWith,
    /// The input occurs inside the parameter (an empty input always does, as in ModSecurity).
    Within,
}

#[derive(Debug)]
pub struct Literal {
    test: Test,
    param: Vec<u8>,
}

impl Literal {
    pub fn new(test: Test, param: &str) -> Self {
        Self {
            test,
            param: param.as_bytes().to_vec(),
        }
    }
}

impl Operator for Literal {
    fn evaluate(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        captures: Option<&mut Captures>,
    ) -> bool {
        let param = expanded.map_or(self.param.as_slice(), str::as_bytes);
        let matched = match self.test {
            Test::Equals => input == param,
            Test::Contains => memmem::find(input, param).is_some(),
            Test::ContainsWord => contains_word(input, param),
            Test::BeginsWith => input.starts_with(param),
            Test::EndsWith => input.ends_with(param),
            Test::Within => input.is_empty() || memmem::find(param, input).is_some(),
        };
        if let (true, Some(captures)) = (matched, captures) {
            // ModSecurity captures the operator's parameter for these operators.
            captures[0] = Some(param.to_vec());
        }
        matched
    }

    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        match self.test {
            Test::Equals
            | Test::Contains
            | Test::ContainsWord
            | Test::BeginsWith
            | Test::EndsWith
                if !self.param.is_empty() && !self.param.contains(&b'%') =>
            {
                Some(vec![self.param.to_ascii_lowercase()])
            }
            _ => None,
        }
    }
}

/// `param` occurs with no word character (alphanumeric or `_`) right before or after it.
fn contains_word(input: &[u8], param: &[u8]) -> bool {
    if param.is_empty() {
        return true;
    }
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    memmem::find_iter(input, param).any(|start| {
        let end = start + param.len();
        let before_ok = start == 0 || !is_word(input[start - 1]);
        let after_ok = end == input.len() || !is_word(input[end]);
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(test: Test, param: &str, input: &[u8]) -> bool {
        Literal::new(test, param).evaluate(input, None, None)
    }

    #[test]
    fn tests_match_modsecurity() {
        assert!(eval(Test::Equals, "POST", b"POST"));
        assert!(!eval(Test::Equals, "POST", b"post"));
        assert!(eval(Test::Contains, "-->", b"a-->b"));
        assert!(eval(Test::BeginsWith, "#:~:text=", b"#:~:text=x"));
        assert!(eval(Test::EndsWith, ".pdf", b"/a.pdf"));
        assert!(eval(Test::Within, "GET HEAD POST", b"HEAD"));
        assert!(!eval(Test::Within, "GET HEAD POST", b"PUT"));
        assert!(eval(Test::Within, "GET", b""));
        assert!(eval(Test::ContainsWord, "select", b"1 select x"));
        assert!(!eval(Test::ContainsWord, "select", b"selection"));
    }

    #[test]
    fn uses_expanded_parameter_and_captures_it() {
        let op = Literal::new(Test::EndsWith, "%{request_headers.host}");
        let mut captures: Captures = Default::default();
        assert!(op.evaluate(
            b"http://example.com",
            Some("example.com"),
            Some(&mut captures)
        ));
        assert_eq!(captures[0].as_deref(), Some(&b"example.com"[..]));
        assert_eq!(op.required_literals(), None);
        assert_eq!(
            Literal::new(Test::Contains, "<H1").required_literals(),
            Some(vec![b"<h1".to_vec()])
        );
    }
}
