//! What translation did with each object and annotation: converted,
//! approximated (and how), not converted, refused (and why), or the object
//! skipped. The migrate command prints these; the provider logs them and
//! writes them to the objects' Events.

use std::fmt;

use crate::provider::ObjectRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Translated into the equivalent typed setting.
    Converted,
    /// Translated into the closest setting; `detail` says how it differs.
    Approximated,
    /// Understood but not expressible yet; ignored where that is safe.
    NotConverted,
    /// Deliberately rejected (e.g. raw configuration snippets).
    Refused,
    /// Not an annotation Portcullis or ingress-nginx knows; ignored.
    Unknown,
    /// The object (or one of its parts) is not served: its routes fail closed.
    Skipped,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Converted => "converted",
            Self::Approximated => "approximated",
            Self::NotConverted => "not converted",
            Self::Refused => "refused",
            Self::Unknown => "unknown",
            Self::Skipped => "skipped",
        })
    }
}

/// One finding about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub object: ObjectRef,
    /// The annotation or field the finding is about.
    pub subject: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl fmt::Display for Finding {
    /// `shop/Ingress/web nginx.ingress.kubernetes.io/limit-rps: converted: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.object, self.subject, self.outcome)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Findings collected during one translation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn push(
        &mut self,
        object: &ObjectRef,
        subject: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.findings.push(Finding {
            object: object.clone(),
            subject: subject.into(),
            outcome,
            detail: detail.into(),
        });
    }

    /// Objects with at least one `Skipped` finding.
    pub fn skipped(&self) -> impl Iterator<Item = &ObjectRef> {
        self.findings
            .iter()
            .filter(|f| f.outcome == Outcome::Skipped)
            .map(|f| &f.object)
    }
}
