//! Where each setting of a configuration value came from, so an error found
//! after loading (compilation, a failed bind) still names its source:
//! `file:line:col field` for files, `namespace/Kind/name field` for objects.

use std::collections::BTreeMap;

use crate::config::error::ConfigError;
use crate::config::yaml::{Positions, parent_path};

/// A Kubernetes object a setting was translated from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    /// `default/Ingress/web`, or `GatewayClass/portcullis` when cluster-scoped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
        }
    }
}

/// The origin index of one configuration value.
#[derive(Debug, Clone)]
pub enum Origins {
    /// A YAML document: field paths resolve to line and column.
    File { file: String, positions: Positions },
    /// Translated objects: a field path (or its nearest indexed parent, e.g.
    /// `routes[3]`) names the object it came from.
    Objects {
        /// Label for fields no object claims (`kubernetes`).
        default: String,
        by_path: BTreeMap<String, ObjectRef>,
    },
}

impl Origins {
    /// An error about `field`, labelled with where that field came from.
    pub fn error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let message = message.into();
        match self {
            Self::File { file, positions } => {
                let pos = positions.locate(field);
                ConfigError {
                    file: file.clone(),
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    field: field.to_owned(),
                    message,
                }
            }
            Self::Objects { default, by_path } => {
                let source = Self::object_for(by_path, field)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| default.clone());
                ConfigError {
                    file: source,
                    line: None,
                    column: None,
                    field: field.to_owned(),
                    message,
                }
            }
        }
    }

    /// The object that produced `field` or its closest ancestor.
    pub fn object_for<'a>(
        by_path: &'a BTreeMap<String, ObjectRef>,
        field: &str,
    ) -> Option<&'a ObjectRef> {
        let mut path = field;
        loop {
            if let Some(object) = by_path.get(path) {
                return Some(object);
            }
            if path.is_empty() {
                return None;
            }
            path = parent_path(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Origins {
        let mut by_path = BTreeMap::new();
        by_path.insert(
            "routes[1]".to_owned(),
            ObjectRef {
                namespace: "shop".into(),
                kind: "Ingress".into(),
                name: "web".into(),
            },
        );
        Origins::Objects {
            default: "kubernetes".into(),
            by_path,
        }
    }

    #[test]
    fn object_errors_name_namespace_kind_and_name() {
        let e = objects().error("routes[1].match.path.regex", "invalid regex");
        assert_eq!(
            e.to_string(),
            "shop/Ingress/web routes[1].match.path.regex: invalid regex"
        );
    }

    #[test]
    fn unclaimed_fields_fall_back_to_the_default_label() {
        let e = objects().error("routes[0].backend", "unknown backend");
        assert_eq!(
            e.to_string(),
            "kubernetes routes[0].backend: unknown backend"
        );
    }

    #[test]
    fn file_errors_name_line_and_column() {
        let doc = crate::config::yaml::parse("routes:\n  - name: a\n    backend: x\n").unwrap();
        let origins = Origins::File {
            file: "g.yaml".into(),
            positions: doc.positions,
        };
        let e = origins.error("routes[0].backend", "unknown backend \"x\"");
        assert_eq!(
            e.to_string(),
            "g.yaml:3:14 routes[0].backend: unknown backend \"x\""
        );
    }

    #[test]
    fn cluster_scoped_objects_have_no_namespace() {
        let object = ObjectRef {
            namespace: String::new(),
            kind: "GatewayClass".into(),
            name: "portcullis".into(),
        };
        assert_eq!(object.to_string(), "GatewayClass/portcullis");
    }
}
