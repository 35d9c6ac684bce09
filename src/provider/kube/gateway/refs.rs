//! Cross-namespace references and label selectors: a reference from one
//! namespace to an object in another is allowed only by a ReferenceGrant in
//! the target namespace naming the source (group, kind, namespace) and the
//! target (group, kind, optionally name).

use std::collections::BTreeMap;

use crate::provider::kube::index::Index;

/// One side of a reference, as ReferenceGrant names it.
pub struct RefKind<'a> {
    pub group: &'a str,
    pub kind: &'a str,
}

/// Whether `from` (an object of `from_kind` in `from_ns`) may refer to
/// `to_kind` `to_name` in `to_ns`.
pub fn permitted(
    index: &Index,
    from_kind: RefKind<'_>,
    from_ns: &str,
    to_kind: RefKind<'_>,
    to_ns: &str,
    to_name: &str,
) -> bool {
    if from_ns == to_ns {
        return true;
    }
    index
        .reference_grants
        .iter()
        .filter(|((ns, _), _)| ns == to_ns)
        .any(|(_, grant)| {
            let from = grant.spec.from.iter().any(|f| {
                f.group == from_kind.group && f.kind == from_kind.kind && f.namespace == from_ns
            });
            let to = grant.spec.to.iter().any(|t| {
                t.group == to_kind.group
                    && t.kind == to_kind.kind
                    && t.name.as_deref().is_none_or(|n| n == to_name)
            });
            from && to
        })
}

/// A label selector (`matchLabels` and `matchExpressions` with `In`,
/// `NotIn`, `Exists`, `DoesNotExist`); an unknown operator matches nothing.
pub fn selects(
    match_labels: Option<&BTreeMap<String, String>>,
    expressions: &[(String, String, Vec<String>)],
    labels: &BTreeMap<String, String>,
) -> bool {
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && expressions
            .iter()
            .all(|(key, operator, values)| match operator.as_str() {
                "In" => labels.get(key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(key),
                "DoesNotExist" => !labels.contains_key(key),
                _ => false,
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())].into();
        let want: BTreeMap<String, String> = labels.clone();
        assert!(selects(Some(&want), &[], &labels));
        assert!(!selects(Some(&want), &[], &BTreeMap::new()));
        let e = |op: &str, vals: &[&str]| {
            vec![(
                "env".to_owned(),
                op.to_owned(),
                vals.iter().map(|s| (*s).to_owned()).collect(),
            )]
        };
        assert!(selects(None, &e("In", &["prod", "qa"]), &labels));
        assert!(!selects(None, &e("NotIn", &["prod"]), &labels));
        assert!(selects(None, &e("Exists", &[]), &labels));
        assert!(!selects(None, &e("DoesNotExist", &[]), &labels));
        assert!(!selects(None, &e("Bogus", &[]), &labels));
    }
}
