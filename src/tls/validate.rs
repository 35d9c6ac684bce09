//! Semantic checks of the TLS configuration for `portcullis validate`: the
//! files load, keys match certificates, and the certificates of a listener
//! cover the hosts its routes serve.

use crate::config::spec::GatewayConfig;
use crate::tls::certs::{self, name_covers};
use crate::tls::server::load_store;
use crate::tls::spec::ClientAuthMode;

/// One problem: `field` is a path such as `listeners[0].tls`.
pub struct TlsIssue {
    pub field: String,
    pub message: String,
}

/// Errors in the TLS settings of `cfg`.
pub fn validate(cfg: &GatewayConfig) -> Vec<TlsIssue> {
    let mut out = Vec::new();
    let mut push = |field: String, message: String| out.push(TlsIssue { field, message });
    for (i, listener) in cfg.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        let base = format!("listeners[{i}].tls");
        if listener.https_redirect.is_some() {
            // Every HTTPS request would redirect to itself.
            push(
                format!("listeners[{i}].https_redirect"),
                "a TLS listener cannot redirect to HTTPS; set it on the plain listener".into(),
            );
        }
        if tls.certificates.is_empty() {
            push(
                format!("{base}.certificates"),
                "at least one certificate is needed".into(),
            );
            continue;
        }
        if let Some(auth) = &tls.client_auth
            && auth.mode != ClientAuthMode::Off
        {
            if let Err(e) = certs::read_roots(&auth.ca) {
                push(format!("{base}.client_auth.ca"), e);
            }
            if let Err(e) = certs::read_crls(&auth.crls) {
                push(format!("{base}.client_auth.crls"), e);
            }
        }
        let store = match load_store(tls) {
            Ok(store) => store,
            Err(errors) => {
                for e in errors {
                    push(format!("{base}.certificates"), e);
                }
                continue;
            }
        };
        // A route host no certificate names would get the default (wrong)
        // certificate or a refused handshake: almost surely a mistake.
        for (r, route) in cfg.routes.iter().enumerate() {
            if !route.listeners.is_empty() && !route.listeners.contains(&listener.name) {
                continue;
            }
            for (h, host) in route.matches.hosts.iter().enumerate() {
                let covered = store.certs.iter().any(|c| {
                    c.names
                        .iter()
                        .any(|n| name_covers(n, host) || n.eq_ignore_ascii_case(host))
                });
                if !covered {
                    push(
                        format!("routes[{r}].match.hosts[{h}]"),
                        format!(
                            "no certificate of listener {:?} covers {host:?}",
                            listener.name
                        ),
                    );
                }
            }
        }
    }
    for (i, backend) in cfg.backends.iter().enumerate() {
        let Some(tls) = &backend.tls else { continue };
        if let Err(e) = crate::tls::client::BackendTls::compile(tls) {
            push(format!("backends[{i}].tls"), e);
        }
    }
    out
}

/// Warnings: settings that load but weaken security.
pub fn warnings(cfg: &GatewayConfig) -> Vec<String> {
    cfg.backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.tls.as_ref().is_some_and(|t| t.insecure_skip_verify))
        .map(|(i, b)| {
            format!(
                "backends[{i}].tls.insecure_skip_verify: backend {:?} is encrypted but not authenticated",
                b.name
            )
        })
        .collect()
}
