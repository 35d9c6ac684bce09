//! `mtls`: the client certificate the listener verified becomes the
//! principal: its SPIFFE ID (a `spiffe://` URI SAN) when it has one, else
//! its subject DN; the SANs and fingerprint are claims. The listener's
//! `tls.client_auth` does the verification; this policy only names who it
//! was, so authorization rules and limits can use it.

use std::sync::Arc;

use crate::config::spec_mtls::MtlsSpec;
use crate::policy::principal::{AuthMethod, Principal};
use crate::tls::identity::ClientIdentity;

/// What the policy found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    Anonymous,
    Failed(&'static str),
}

#[derive(Debug)]
pub struct Mtls {
    pub spec: MtlsSpec,
}

impl Mtls {
    pub fn compile(spec: &MtlsSpec) -> Self {
        Self { spec: spec.clone() }
    }

    pub fn authenticate(&self, policy: &Arc<str>, cert: Option<&ClientIdentity>) -> Outcome {
        let Some(cert) = cert else {
            return if self.spec.optional {
                Outcome::Anonymous
            } else {
                Outcome::Failed("client_certificate_missing")
            };
        };
        Outcome::Authenticated(Arc::new(principal(policy, cert)))
    }
}

/// The `spiffe://` URI SAN, if the certificate has one.
pub fn spiffe_id(cert: &ClientIdentity) -> Option<&str> {
    cert.sans
        .iter()
        .filter_map(|san| san.strip_prefix("URI:"))
        .find(|uri| uri.starts_with("spiffe://"))
}

fn principal(policy: &Arc<str>, cert: &ClientIdentity) -> Principal {
    let spiffe = spiffe_id(cert);
    let subject = spiffe.unwrap_or(&cert.subject);
    let mut p = Principal::new(AuthMethod::Mtls, Arc::clone(policy), subject);
    p.key_id = Some(cert.fingerprint.clone());
    p.claims = serde_json::json!({
        "subject": cert.subject,
        "sans": cert.sans,
        "fingerprint": cert.fingerprint,
        "spiffe_id": spiffe,
    });
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(sans: &[&str]) -> ClientIdentity {
        ClientIdentity {
            subject: "CN=payments,O=Example".to_owned(),
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            fingerprint: "ab".repeat(32),
        }
    }

    #[test]
    fn spiffe_id_wins_over_the_subject() {
        let m = Mtls::compile(&MtlsSpec { optional: false });
        let policy: Arc<str> = Arc::from("mtls");
        let with = cert(&[
            "DNS:payments.internal",
            "URI:spiffe://example.org/ns/prod/sa/payments",
        ]);
        let Outcome::Authenticated(p) = m.authenticate(&policy, Some(&with)) else {
            panic!()
        };
        assert_eq!(p.subject, "spiffe://example.org/ns/prod/sa/payments");
        assert_eq!(p.claims["subject"], "CN=payments,O=Example");
        let without = cert(&["DNS:payments.internal"]);
        let Outcome::Authenticated(p) = m.authenticate(&policy, Some(&without)) else {
            panic!()
        };
        assert_eq!(p.subject, "CN=payments,O=Example");
        assert_eq!(
            m.authenticate(&policy, None),
            Outcome::Failed("client_certificate_missing")
        );
        let optional = Mtls::compile(&MtlsSpec { optional: true });
        assert_eq!(optional.authenticate(&policy, None), Outcome::Anonymous);
    }
}
