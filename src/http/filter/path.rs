//! Path modifiers shared by redirects and rewrites: full replacement, prefix
//! replacement (Gateway API semantics) and a regex substitution
//! (ingress-nginx `rewrite-target`).

use regex::{Regex, RegexBuilder};

use crate::config::spec_route::PathModifierSpec;
use crate::route::path::REGEX_SIZE_LIMIT;

#[derive(Debug, Clone)]
pub enum PathModifier {
    Full(String),
    /// `matched` is the route's `path.prefix`; `nocase` its `case_insensitive`.
    Prefix {
        matched: String,
        replacement: String,
        nocase: bool,
    },
    Regex {
        pattern: Regex,
        substitution: String,
    },
}

impl PathModifier {
    /// `route_prefix` is the route's path prefix match, if it has one (and
    /// whether it ignores case). Errors are `(field, message)` relative to
    /// the modifier.
    pub fn compile(
        spec: &PathModifierSpec,
        route_prefix: Option<(&str, bool)>,
    ) -> Result<Self, (String, String)> {
        let absolute = |field: &str, p: &str| {
            if p.starts_with('/') && !p.contains(['?', '#']) {
                Ok(())
            } else {
                Err((
                    field.to_owned(),
                    format!("{p:?} must start with '/' and hold no '?' or '#'"),
                ))
            }
        };
        match (
            &spec.replace_full_path,
            &spec.replace_prefix_match,
            &spec.regex,
        ) {
            (Some(full), None, None) => {
                absolute("replace_full_path", full)?;
                Ok(Self::Full(full.clone()))
            }
            (None, Some(replacement), None) => {
                absolute("replace_prefix_match", replacement)?;
                let Some((matched, nocase)) = route_prefix else {
                    return Err((
                        "replace_prefix_match".into(),
                        "needs a route with a `path.prefix` match".into(),
                    ));
                };
                Ok(Self::Prefix {
                    matched: matched.to_owned(),
                    replacement: replacement.clone(),
                    nocase,
                })
            }
            (None, None, Some(re)) => {
                let pattern = RegexBuilder::new(&re.pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| ("regex.pattern".to_owned(), format!("invalid regex: {e}")))?;
                Ok(Self::Regex {
                    pattern,
                    substitution: re.substitution.clone(),
                })
            }
            (None, None, None) => Err((
                String::new(),
                "set one of replace_full_path, replace_prefix_match, regex".into(),
            )),
            _ => Err((
                String::new(),
                "set only one of replace_full_path, replace_prefix_match, regex".into(),
            )),
        }
    }

    /// The new path for the normalised request `path` (never empty, always
    /// starting with `/`; the caller normalises it again).
    pub fn apply(&self, path: &str) -> String {
        let out = match self {
            Self::Full(full) => full.clone(),
            Self::Prefix {
                matched,
                replacement,
                nocase,
            } => {
                let rest = match path.get(..matched.len()) {
                    Some(head)
                        if head == matched || (*nocase && head.eq_ignore_ascii_case(matched)) =>
                    {
                        &path[matched.len()..]
                    }
                    // Not matched by this prefix (cannot happen on the route
                    // that matched it): leave the path alone.
                    _ => return path.to_owned(),
                };
                let base = replacement.trim_end_matches('/');
                let rest = rest.trim_start_matches('/');
                match (base.is_empty(), rest.is_empty()) {
                    (true, true) => "/".to_owned(),
                    (_, true) if replacement.ends_with('/') => format!("{base}/"),
                    (_, true) => base.to_owned(),
                    _ => format!("{base}/{rest}"),
                }
            }
            Self::Regex {
                pattern,
                substitution,
            } => pattern.replace(path, substitution.as_str()).into_owned(),
        };
        if out.starts_with('/') {
            out
        } else {
            format!("/{out}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec_route::RegexRewriteSpec;

    fn prefix(matched: &str, replacement: &str) -> PathModifier {
        let spec = PathModifierSpec {
            replace_prefix_match: Some(replacement.into()),
            ..Default::default()
        };
        PathModifier::compile(&spec, Some((matched, false))).unwrap()
    }

    #[test]
    fn prefix_replacement_follows_gateway_api() {
        let cases = [
            ("/foo", "/bar", "/foo/x", "/bar/x"),
            ("/foo", "/bar", "/foo", "/bar"),
            ("/foo", "/", "/foo/x", "/x"),
            ("/foo", "/", "/foo", "/"),
            ("/foo/", "/bar/", "/foo/x", "/bar/x"),
            ("/foo", "/bar/", "/foo", "/bar/"),
            ("/api/v1", "/v2", "/api/v1/users/7", "/v2/users/7"),
        ];
        for (matched, replacement, path, want) in cases {
            assert_eq!(
                prefix(matched, replacement).apply(path),
                want,
                "{matched} {replacement} {path}"
            );
        }
    }

    #[test]
    fn regex_substitution_as_rewrite_target() {
        let spec = PathModifierSpec {
            regex: Some(RegexRewriteSpec {
                pattern: "^/something(/|$)(.*)".into(),
                substitution: "/$2".into(),
            }),
            ..Default::default()
        };
        let m = PathModifier::compile(&spec, None).unwrap();
        assert_eq!(m.apply("/something/new"), "/new");
        assert_eq!(m.apply("/something"), "/");
        assert_eq!(m.apply("/other"), "/other");
    }

    #[test]
    fn bad_modifiers_are_named() {
        let err = |spec: PathModifierSpec, prefix: Option<(&str, bool)>| {
            PathModifier::compile(&spec, prefix).unwrap_err().0
        };
        let two = PathModifierSpec {
            replace_full_path: Some("/a".into()),
            replace_prefix_match: Some("/b".into()),
            regex: None,
        };
        assert_eq!(err(two, Some(("/x", false))), "");
        let no_prefix = PathModifierSpec {
            replace_prefix_match: Some("/b".into()),
            ..Default::default()
        };
        assert_eq!(err(no_prefix, None), "replace_prefix_match");
        let bad_re = PathModifierSpec {
            regex: Some(RegexRewriteSpec {
                pattern: "(".into(),
                substitution: "/".into(),
            }),
            ..Default::default()
        };
        assert_eq!(err(bad_re, None), "regex.pattern");
        let relative = PathModifierSpec {
            replace_full_path: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(err(relative, None), "replace_full_path");
    }
}
