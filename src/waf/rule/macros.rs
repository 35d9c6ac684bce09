//! Macro text (`%{TX.anomaly_score}`, `%{MATCHED_VAR}`): parsed once at load,
//! expanded per evaluation by the engine.

/// One piece of a macro text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// `%{COLLECTION.key}` or `%{VARIABLE}`: collection upper-cased, key lower-cased.
    Var {
        collection: String,
        key: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Macro {
    pub parts: Vec<Part>,
}

impl Macro {
    pub fn parse(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let inner = &rest[start + 2..start + 2 + len];
            let (collection, key) = match inner.split_once(['.', ':']) {
                Some((c, k)) => (c, Some(k.to_ascii_lowercase())),
                None => (inner, None),
            };
            parts.push(Part::Var {
                collection: collection.trim().to_ascii_uppercase(),
                key,
            });
            rest = &rest[start + 3 + len..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Self { parts }
    }

    /// Whether expansion is needed (the text holds at least one `%{…}`).
    pub fn has_vars(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var { .. }))
    }

    /// The text when it holds no macro.
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(s)] => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_and_variables() {
        let m = Macro::parse("Total: %{TX.Anomaly_Score} by %{matched_var}!");
        assert_eq!(
            m.parts,
            vec![
                Part::Literal("Total: ".into()),
                Part::Var {
                    collection: "TX".into(),
                    key: Some("anomaly_score".into())
                },
                Part::Literal(" by ".into()),
                Part::Var {
                    collection: "MATCHED_VAR".into(),
                    key: None
                },
                Part::Literal("!".into()),
            ]
        );
        assert!(m.has_vars());
        assert_eq!(Macro::parse("plain").literal(), Some("plain"));
        assert_eq!(Macro::parse("50%{ open").literal(), Some("50%{ open"));
    }
}
