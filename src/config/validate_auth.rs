//! Validation of the identity policies (jwt, ...) and of the order of a
//! route's chain: a policy that reads the principal (authorization, a rate
//! limit keyed on a claim) must come after an authentication policy, or it
//! would judge every request as anonymous.

use crate::config::spec::{GatewayConfig, PolicyKindSpec};
use crate::config::spec_jwt::{JwtSpec, KeySourceSpec, TokenSourceSpec};
use crate::config::spec_rate_limit::{KeyPartSpec, TierAttributeSpec};
use crate::config::validate::Issues;
use crate::policy::authn::jwt::jws::Algorithm;

pub(crate) fn check_jwt(out: &mut Issues, base: &str, jwt: &JwtSpec) {
    if jwt.providers.is_empty() {
        out.push(
            format!("{base}.providers"),
            "at least one provider is required",
        );
    }
    let mut issuers = std::collections::HashSet::new();
    for (i, p) in jwt.providers.iter().enumerate() {
        let b = format!("{base}.providers[{i}]");
        if p.issuer.is_empty() {
            out.push(format!("{b}.issuer"), "must not be empty");
        } else if !issuers.insert(p.issuer.as_str()) {
            out.push(
                format!("{b}.issuer"),
                format!("issuer {:?} is configured twice", p.issuer),
            );
        }
        if p.algorithms.is_empty() {
            out.push(
                format!("{b}.algorithms"),
                "at least one algorithm is required",
            );
        }
        for (j, alg) in p.algorithms.iter().enumerate() {
            if Algorithm::from_name(alg).is_none() {
                out.push(
                    format!("{b}.algorithms[{j}]"),
                    format!("unsupported algorithm {alg:?} (none is never accepted)"),
                );
            }
        }
        check_key_source(out, &format!("{b}.keys"), &p.keys);
    }
    if jwt.from.is_empty() {
        out.push(
            format!("{base}.from"),
            "at least one token source is required",
        );
    }
    for (i, s) in jwt.from.iter().enumerate() {
        let ok = match s {
            TokenSourceSpec::Header(n) => http::HeaderName::from_bytes(n.as_bytes()).is_ok(),
            TokenSourceSpec::Cookie(n) | TokenSourceSpec::Query(n) => !n.is_empty(),
        };
        if !ok {
            out.push(
                format!("{base}.from[{i}]"),
                "invalid header, cookie or parameter name",
            );
        }
    }
    if jwt.max_token_bytes == 0 || jwt.max_token_bytes > 64 * 1024 {
        out.push(
            format!("{base}.max_token_bytes"),
            "must be between 1 and 65536",
        );
    }
    if jwt.cache_entries > 10_000_000 {
        out.push(format!("{base}.cache_entries"), "must be at most 10000000");
    }
    for (i, c) in jwt.claims_to_headers.iter().enumerate() {
        if http::HeaderName::from_bytes(c.header.as_bytes()).is_err() {
            out.push(
                format!("{base}.claims_to_headers[{i}].header"),
                "invalid header name",
            );
        }
        if c.claim.is_empty() {
            out.push(
                format!("{base}.claims_to_headers[{i}].claim"),
                "must not be empty",
            );
        }
    }
}

fn check_key_source(out: &mut Issues, base: &str, k: &KeySourceSpec) {
    let set = [
        k.jwks_uri.is_some(),
        k.discovery.is_some(),
        k.file.is_some(),
        k.inline.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        out.push(
            base,
            "exactly one of jwks_uri, discovery, file, inline must be set",
        );
        return;
    }
    for (field, url) in [("jwks_uri", &k.jwks_uri), ("discovery", &k.discovery)] {
        let Some(url) = url else { continue };
        match url.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("https") && uri.authority().is_some() => {}
            Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
                if !k.insecure_http {
                    out.push(
                        format!("{base}.{field}"),
                        "plain http URL: use https, or set insecure_http: true",
                    );
                }
            }
            _ => out.push(format!("{base}.{field}"), format!("invalid URL {url:?}")),
        }
    }
    if let Some(path) = &k.file
        && let Err(e) = std::fs::read(path)
    {
        out.push(format!("{base}.file"), format!("cannot read {path}: {e}"));
    }
    // Static key sets must parse now, not on the first request.
    let doc = match (&k.inline, &k.file) {
        (Some(inline), _) => Some(inline.as_bytes().to_vec()),
        (None, Some(path)) => std::fs::read(path).ok(),
        _ => None,
    };
    if let Some(doc) = doc {
        match crate::policy::authn::jwt::jwk::parse_set(&doc) {
            Ok((keys, _)) if keys.is_empty() => {
                out.push(base, "the key set holds no usable signing key")
            }
            Ok(_) => {}
            Err(e) => out.push(base, e),
        }
    }
    if let Some(ca) = &k.ca_file
        && let Err(e) = crate::tls::certs::read_roots(ca)
    {
        out.push(format!("{base}.ca_file"), e);
    }
    if k.timeout.is_zero() {
        out.push(format!("{base}.timeout"), "must be more than 0");
    }
}

pub(crate) fn check_authz(out: &mut Issues, base: &str, a: &crate::config::spec_authz::AuthzSpec) {
    let mut names = std::collections::HashSet::new();
    for (i, r) in a.rules.iter().enumerate() {
        let b = format!("{base}.rules[{i}]");
        if r.name.is_empty() {
            out.push(format!("{b}.name"), "must not be empty");
        } else if !names.insert(r.name.as_str()) {
            out.push(
                format!("{b}.name"),
                format!("duplicate rule name {:?}", r.name),
            );
        }
        // Compile the rule alone: CEL syntax, CIDRs, methods, claim tests.
        if let Err(e) = crate::policy::authz::Rule::compile(r) {
            out.push(b, e);
        }
    }
    if a.rules.is_empty() {
        out.push(format!("{base}.rules"), "at least one rule is required");
    }
}

pub(crate) fn check_api_key(
    out: &mut Issues,
    base: &str,
    k: &crate::config::spec_api_key::ApiKeySpec,
) {
    let mut entries = k.keys.clone();
    if let Some(path) = &k.keys_file {
        match crate::policy::authn::api_key::read_keys_file(path) {
            Ok(more) => entries.extend(more),
            Err(e) => out.push(format!("{base}.keys_file"), e),
        }
    }
    if entries.is_empty() && k.keys_file.is_none() {
        out.push(format!("{base}.keys"), "no keys: set keys or keys_file");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in k.keys.iter().enumerate() {
        if let Err(m) = crate::policy::authn::api_key::parse_hash(&e.hash) {
            out.push(format!("{base}.keys[{i}].hash"), m);
        } else if !seen.insert(e.hash.to_ascii_lowercase()) {
            out.push(
                format!("{base}.keys[{i}].hash"),
                "the same key is listed twice",
            );
        }
        if e.client_id.is_empty() {
            out.push(format!("{base}.keys[{i}].client_id"), "must not be empty");
        }
    }
    for (i, s) in k.from.iter().enumerate() {
        if crate::policy::authn::token::TokenSource::compile(s).is_err() {
            out.push(
                format!("{base}.from[{i}]"),
                "invalid header, cookie or parameter name",
            );
        }
    }
    if let Some(h) = &k.client_id_header
        && http::HeaderName::from_bytes(h.as_bytes()).is_err()
    {
        out.push(format!("{base}.client_id_header"), "invalid header name");
    }
}

pub(crate) fn check_basic(out: &mut Issues, base: &str, b: &crate::config::spec_basic::BasicSpec) {
    match std::fs::read_to_string(&b.htpasswd_file) {
        Ok(text) => {
            if let Err(e) = crate::policy::authn::htpasswd::parse(&text) {
                out.push(
                    format!("{base}.htpasswd_file"),
                    format!("{}: {e}", b.htpasswd_file),
                );
            }
        }
        Err(e) => out.push(
            format!("{base}.htpasswd_file"),
            format!("cannot read {}: {e}", b.htpasswd_file),
        ),
    }
    if b.realm.is_empty() || b.realm.contains('"') {
        out.push(
            format!("{base}.realm"),
            "must be non-empty and without quotes",
        );
    }
    if let Some(h) = &b.user_header
        && http::HeaderName::from_bytes(h.as_bytes()).is_err()
    {
        out.push(format!("{base}.user_header"), "invalid header name");
    }
}

pub(crate) fn check_external(
    out: &mut Issues,
    base: &str,
    e: &crate::config::spec_external::ExternalSpec,
) {
    if let Err(m) = crate::policy::authn::external::External::compile(e) {
        out.push(base, m);
    }
    if e.timeout.is_zero() {
        out.push(format!("{base}.timeout"), "must be more than 0");
    }
    if e.include_body_bytes > 1 << 20 {
        out.push(
            format!("{base}.include_body_bytes"),
            "must be at most 1048576",
        );
    }
}

/// An `http(s)` URL with a host; plain http only with `insecure`.
fn check_url(out: &mut Issues, field: String, url: &str, insecure: bool) {
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("https") && uri.authority().is_some() => {}
        Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
            if !insecure {
                out.push(
                    field,
                    "plain http URL: use https, or set insecure_http: true",
                );
            }
        }
        _ => out.push(field, format!("invalid URL {url:?}")),
    }
}

fn check_secret(out: &mut Issues, base: &str, inline: Option<&str>, file: Option<&str>) {
    match (inline, file) {
        (Some(""), None) => out.push(format!("{base}.client_secret"), "must not be empty"),
        (Some(_), None) => {}
        (None, Some(path)) => {
            if let Err(e) = std::fs::read(path) {
                out.push(
                    format!("{base}.client_secret_file"),
                    format!("cannot read {path}: {e}"),
                );
            }
        }
        _ => out.push(
            base,
            "exactly one of client_secret, client_secret_file must be set",
        ),
    }
}

pub(crate) fn check_oidc(out: &mut Issues, base: &str, o: &crate::config::spec_oidc::OidcSpec) {
    use crate::policy::authn::oidc::seal;
    check_url(out, format!("{base}.issuer"), &o.issuer, o.insecure_http);
    if o.client_id.is_empty() {
        out.push(format!("{base}.client_id"), "must not be empty");
    }
    check_secret(
        out,
        base,
        o.client_secret.as_deref(),
        o.client_secret_file.as_deref(),
    );
    // The callback URL is the browser's: plain http only for local tests.
    check_url(
        out,
        format!("{base}.redirect_uri"),
        &o.redirect_uri,
        o.insecure_http || !o.cookie.secure,
    );
    if let Some(uri) = &o.post_logout_redirect_uri
        && !uri.starts_with('/')
    {
        check_url(
            out,
            format!("{base}.post_logout_redirect_uri"),
            uri,
            o.insecure_http || !o.cookie.secure,
        );
    }
    if !o.logout_path.starts_with('/') {
        out.push(format!("{base}.logout_path"), "must start with '/'");
    }
    if o.session_keys.is_empty() {
        out.push(
            format!("{base}.session_keys"),
            "at least one key is required",
        );
    }
    let mut ids = std::collections::HashSet::new();
    for (i, k) in o.session_keys.iter().enumerate() {
        let b = format!("{base}.session_keys[{i}]");
        if !seal::valid_key_id(&k.id) {
            out.push(format!("{b}.id"), "1-32 letters, digits, '-' or '_'");
        } else if !ids.insert(k.id.as_str()) {
            out.push(format!("{b}.id"), format!("duplicate key id {:?}", k.id));
        }
        if let Err(e) = seal::load_key(k) {
            let field = match (&k.secret, &k.file) {
                (Some(_), None) => format!("{b}.secret"),
                (None, Some(_)) => format!("{b}.file"),
                _ => b,
            };
            out.push(field, e);
        }
    }
    if let Err(e) = crate::policy::authn::oidc::cookie::Cookies::compile(&o.cookie) {
        out.push(format!("{base}.cookie"), e);
    }
    for (j, alg) in o.algorithms.iter().enumerate() {
        if Algorithm::from_name(alg).is_none() {
            out.push(
                format!("{base}.algorithms[{j}]"),
                format!("unsupported algorithm {alg:?}"),
            );
        }
    }
    if o.algorithms.is_empty() {
        out.push(format!("{base}.algorithms"), "at least one is required");
    }
    if o.max_sessions == 0 || o.max_sessions > 10_000_000 {
        out.push(
            format!("{base}.max_sessions"),
            "must be between 1 and 10000000",
        );
    }
    if o.session_ttl.is_zero() {
        out.push(format!("{base}.session_ttl"), "must be more than 0");
    }
    if o.timeout.is_zero() {
        out.push(format!("{base}.timeout"), "must be more than 0");
    }
    for (field, name) in [
        ("access_token_header", &o.forward.access_token_header),
        ("id_token_header", &o.forward.id_token_header),
    ] {
        if let Some(name) = name
            && http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            out.push(format!("{base}.forward.{field}"), "invalid header name");
        }
    }
    check_claim_headers(out, base, &o.claims_to_headers);
    if let Some(ca) = &o.ca_file
        && let Err(e) = crate::tls::certs::read_roots(ca)
    {
        out.push(format!("{base}.ca_file"), e);
    }
}

pub(crate) fn check_introspection(
    out: &mut Issues,
    base: &str,
    i: &crate::config::spec_introspection::IntrospectionSpec,
) {
    check_url(
        out,
        format!("{base}.endpoint"),
        &i.endpoint,
        i.insecure_http,
    );
    if i.client_id.is_empty() {
        out.push(format!("{base}.client_id"), "must not be empty");
    }
    check_secret(
        out,
        base,
        i.client_secret.as_deref(),
        i.client_secret_file.as_deref(),
    );
    if i.from.is_empty() {
        out.push(
            format!("{base}.from"),
            "at least one token source is required",
        );
    }
    for (j, s) in i.from.iter().enumerate() {
        if crate::policy::authn::token::TokenSource::compile(s).is_err() {
            out.push(
                format!("{base}.from[{j}]"),
                "invalid header, cookie or parameter name",
            );
        }
    }
    if i.max_token_bytes == 0 || i.max_token_bytes > 64 * 1024 {
        out.push(
            format!("{base}.max_token_bytes"),
            "must be between 1 and 65536",
        );
    }
    if i.cache_entries > 10_000_000 {
        out.push(format!("{base}.cache_entries"), "must be at most 10000000");
    }
    if i.timeout.is_zero() {
        out.push(format!("{base}.timeout"), "must be more than 0");
    }
    check_claim_headers(out, base, &i.claims_to_headers);
    if let Some(ca) = &i.ca_file
        && let Err(e) = crate::tls::certs::read_roots(ca)
    {
        out.push(format!("{base}.ca_file"), e);
    }
}

fn check_claim_headers(
    out: &mut Issues,
    base: &str,
    list: &[crate::config::spec_jwt::ClaimToHeaderSpec],
) {
    for (i, c) in list.iter().enumerate() {
        if http::HeaderName::from_bytes(c.header.as_bytes()).is_err() {
            out.push(
                format!("{base}.claims_to_headers[{i}].header"),
                "invalid header name",
            );
        }
        if c.claim.is_empty() {
            out.push(
                format!("{base}.claims_to_headers[{i}].claim"),
                "must not be empty",
            );
        }
    }
}

/// Whether a policy of this kind reads the principal.
fn reads_principal(kind: &PolicyKindSpec<'_>) -> bool {
    match kind {
        PolicyKindSpec::RateLimit(r) => {
            r.key.iter().any(|k| {
                matches!(
                    k,
                    KeyPartSpec::Subject | KeyPartSpec::ClientId | KeyPartSpec::Claim(_)
                )
            }) || r.tiers.as_ref().is_some_and(|t| {
                matches!(t.by, TierAttributeSpec::Claim(_) | TierAttributeSpec::Role)
            })
        }
        PolicyKindSpec::Authz(a) => a.rules.iter().any(|r| {
            r.authenticated == Some(true)
                || !r.roles.is_empty()
                || !r.scopes.is_empty()
                || !r.subjects.is_empty()
                || !r.auth_methods.is_empty()
                || !r.claims.is_empty()
                || r.cel.as_deref().is_some_and(|c| c.contains("principal"))
        }),
        PolicyKindSpec::IpFilter(_)
        | PolicyKindSpec::Inflight(_)
        | PolicyKindSpec::Jwt(_)
        | PolicyKindSpec::ApiKey(_)
        | PolicyKindSpec::Basic(_)
        | PolicyKindSpec::External(_)
        | PolicyKindSpec::ThreatFeed(_)
        | PolicyKindSpec::Mtls(_)
        | PolicyKindSpec::Waf(_)
        | PolicyKindSpec::Oidc(_)
        | PolicyKindSpec::Introspection(_) => false,
    }
}

/// Refuses a chain (listener policies, then the route's) where a policy
/// that reads the principal has no authentication policy before it.
pub(crate) fn check_chain_order(out: &mut Issues, cfg: &GatewayConfig) {
    let kind_of = |name: &str| {
        cfg.policies
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.kind())
    };
    for (ri, route) in cfg.routes.iter().enumerate() {
        let listeners: Vec<_> = cfg
            .listeners
            .iter()
            .enumerate()
            .filter(|(_, l)| route.listeners.is_empty() || route.listeners.contains(&l.name))
            .collect();
        for (li, listener) in listeners {
            let chain = listener
                .policies
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("listeners[{li}].policies[{i}]"), n))
                .chain(
                    route
                        .policies
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (format!("routes[{ri}].policies[{i}]"), n)),
                );
            let mut authenticated = false;
            for (field, name) in chain {
                let Some(kind) = kind_of(name) else { continue };
                if reads_principal(&kind) && !authenticated {
                    out.push(
                        field,
                        format!(
                            "policy {name:?} reads the authenticated principal but no \
                             authentication policy runs before it on route {:?}; \
                             list an authentication policy first",
                            route.name
                        ),
                    );
                }
                authenticated |= kind.authenticates();
            }
        }
    }
}

/// Settings that load but weaken security.
pub fn warnings(cfg: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in cfg.policies.iter().enumerate() {
        if let Some(o) = &p.oidc
            && o.insecure_http
        {
            out.push(format!(
                "policies[{i}].oidc.insecure_http: the login flow with {:?} may run over plain http",
                o.issuer
            ));
        }
        if let Some(o) = &p.oidc
            && !o.cookie.secure
        {
            out.push(format!(
                "policies[{i}].oidc.cookie.secure: the session cookie is sent over plain http"
            ));
        }
        if let Some(intro) = &p.introspection
            && intro.insecure_http
        {
            out.push(format!(
                "policies[{i}].introspection.insecure_http: tokens may be sent to {:?} over plain http",
                intro.endpoint
            ));
        }
        if let Some(intro) = &p.introspection
            && intro.fail_open
        {
            out.push(format!(
                "policies[{i}].introspection.fail_open: requests pass unauthenticated while the endpoint is down"
            ));
        }
        if let Some(jwt) = &p.jwt {
            for (j, provider) in jwt.providers.iter().enumerate() {
                if provider.keys.insecure_http {
                    out.push(format!(
                        "policies[{i}].jwt.providers[{j}].keys.insecure_http: keys for {:?} may be fetched over plain http",
                        provider.issuer
                    ));
                }
            }
        }
    }
    for (i, p) in cfg.policies.iter().enumerate() {
        if let Some(b) = &p.basic
            && let Ok(text) = std::fs::read_to_string(&b.htpasswd_file)
            && let Ok(users) = crate::policy::authn::htpasswd::parse(&text)
        {
            let mut legacy: Vec<&str> = users
                .iter()
                .filter(|(_, h)| h.is_legacy())
                .map(|(u, _)| u.as_str())
                .collect();
            legacy.sort_unstable();
            if !legacy.is_empty() {
                out.push(format!(
                    "policies[{i}].basic.htpasswd_file: users {legacy:?} use legacy hashes ({{SHA}} or $apr1$); rehash them with bcrypt or argon2id"
                ));
            }
        }
    }
    out
}
