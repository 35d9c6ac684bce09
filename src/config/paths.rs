//! File paths inside a configuration: relative ones are resolved against
//! the config file's directory at load time (like nginx's `include`, unlike
//! a path relative to wherever the process happened to start).

use std::path::Path;

use crate::config::spec::GatewayConfig;
use crate::tls::spec::CertificateSpec;

/// Rewrites every relative certificate, key, CA, CRL and token path of
/// `cfg` as `base/path`. Absolute paths are left alone.
pub fn resolve_relative(cfg: &mut GatewayConfig, base: &Path) {
    let fix = |p: &mut String| {
        if !p.is_empty() && Path::new(p.as_str()).is_relative() {
            *p = base.join(p.as_str()).to_string_lossy().into_owned();
        }
    };
    let fix_pair = |c: &mut CertificateSpec| {
        fix(&mut c.cert);
        fix(&mut c.key);
    };
    if let Some(token) = cfg.admin.token_file.as_mut() {
        fix(token);
    }
    for listener in &mut cfg.listeners {
        let Some(tls) = listener.tls.as_mut() else {
            continue;
        };
        tls.certificates.iter_mut().for_each(fix_pair);
        if let Some(auth) = tls.client_auth.as_mut() {
            fix(&mut auth.ca);
            auth.crls.iter_mut().for_each(fix);
        }
    }
    for policy in &mut cfg.policies {
        if let Some(waf) = policy.waf.as_mut() {
            waf.crs.iter_mut().for_each(fix);
            waf.rules.iter_mut().for_each(fix);
        }
    }
    for backend in &mut cfg.backends {
        let Some(tls) = backend.tls.as_mut() else {
            continue;
        };
        if let Some(ca) = tls.ca.as_mut() {
            fix(ca);
        }
        if let Some(c) = tls.client_certificate.as_mut() {
            fix_pair(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_base_and_absolute_ones_stay() {
        let mut cfg: GatewayConfig = serde_json::from_value(serde_json::json!({
            "admin": {"token_file": "secrets/token"},
            "listeners": [{"name": "l", "address": "127.0.0.1:0",
                "tls": {"certificates": [{"cert": "a.pem", "key": "/abs/a.key"}],
                        "client_auth": {"mode": "required", "ca": "ca.pem", "crls": ["crl.pem"]}}}],
            "backends": [{"name": "b", "endpoints": [{"address": "127.0.0.1:1"}],
                "tls": {"ca": "../up-ca.pem"}}],
        }))
        .unwrap();
        resolve_relative(&mut cfg, Path::new("/etc/gw"));
        assert_eq!(
            cfg.admin.token_file.as_deref(),
            Some("/etc/gw/secrets/token")
        );
        let tls = cfg.listeners[0].tls.as_ref().unwrap();
        assert_eq!(tls.certificates[0].cert, "/etc/gw/a.pem");
        assert_eq!(tls.certificates[0].key, "/abs/a.key");
        let auth = tls.client_auth.as_ref().unwrap();
        assert_eq!(auth.ca, "/etc/gw/ca.pem");
        assert_eq!(auth.crls, ["/etc/gw/crl.pem"]);
        assert_eq!(
            cfg.backends[0].tls.as_ref().unwrap().ca.as_deref(),
            Some("/etc/gw/../up-ca.pem")
        );
    }
}
