//! Route matcher (method): the request method must be one of those listed.

use http::Method;

/// An empty list matches every method.
#[derive(Debug, Clone, Default)]
pub struct MethodMatcher {
    methods: Vec<Method>,
}

impl MethodMatcher {
    /// Methods are case-sensitive on the wire, but a configuration saying
    /// `get` means `GET`; upper-casing here avoids a route that never matches.
    /// Returns the index and reason of every invalid entry.
    pub fn compile(raw: &[String]) -> Result<Self, Vec<(usize, String)>> {
        let mut methods = Vec::with_capacity(raw.len());
        let mut errors = Vec::new();
        for (i, name) in raw.iter().enumerate() {
            match Method::from_bytes(name.to_ascii_uppercase().as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => errors.push((i, format!("invalid method {name:?}"))),
            }
        }
        if errors.is_empty() {
            Ok(Self { methods })
        } else {
            Err(errors)
        }
    }

    /// Whether the route has a method condition at all (a precedence rule).
    pub fn is_constrained(&self) -> bool {
        !self.methods.is_empty()
    }

    pub fn matches(&self, method: &Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(names: &[&str]) -> Result<MethodMatcher, Vec<(usize, String)>> {
        MethodMatcher::compile(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn empty_matches_any_method() {
        let m = compile(&[]).unwrap();
        assert!(!m.is_constrained());
        assert!(m.matches(&Method::GET));
        assert!(m.matches(&Method::from_bytes(b"PURGE").unwrap()));
    }

    #[test]
    fn listed_methods_only() {
        let m = compile(&["GET", "post", "PURGE"]).unwrap();
        assert!(m.is_constrained());
        assert!(m.matches(&Method::GET));
        assert!(m.matches(&Method::POST));
        assert!(m.matches(&Method::from_bytes(b"PURGE").unwrap()));
        assert!(!m.matches(&Method::DELETE));
    }

    #[test]
    fn invalid_methods_are_reported_by_index() {
        let errs = compile(&["GET", "BAD METHOD", ""]).err().unwrap();
        assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
    }
}
