//! One Ingress (networking.k8s.io/v1) lowered into routes, backends,
//! policies and certificates: a pure function of the object and the index.
//!
//! `pathType`: `Exact` is an exact match; `Prefix` matches on `/`-separated
//! segments (a trailing `/` is ignored, as the API defines);
//! `ImplementationSpecific` is treated as `Prefix`, or, with `use-regex`, as
//! a case-insensitive regular-expression prefix (nginx's `location ~*`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressServiceBackend};
use serde_json::{Value, json};

use crate::config::spec::{BackendSpec, PathMatchSpec};
use crate::provider::ObjectRef;
use crate::provider::kube::annotations::{self, IngressSettings};
use crate::provider::kube::builder::{Builder, RouteKey};
use crate::provider::kube::index::Index;
use crate::provider::kube::report::{Outcome, Report};

/// What translation reads besides the Ingress itself.
pub struct Context<'a> {
    pub index: &'a Index,
    /// `Index::slices_by_service`, computed once.
    pub slices: &'a std::collections::HashMap<
        (&'a str, &'a str),
        Vec<&'a k8s_openapi::api::discovery::v1::EndpointSlice>,
    >,
    /// Reach Services by cluster DNS name rather than EndpointSlices.
    pub service_dns: bool,
}

/// Adds the routes of `ingress` (already accepted for our class).
pub fn translate(
    object: &ObjectRef,
    ingress: &Ingress,
    settings: &IngressSettings,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
) {
    let index = context.index;
    let namespace = object.namespace.as_str();
    let Some(spec) = &ingress.spec else {
        report.push(object, "spec", Outcome::Skipped, "no spec");
        return;
    };
    let mut policies = Vec::new();
    for (suffix, kind, value) in [
        (
            "ip-filter",
            "ip_filter",
            settings.ip_filter.as_ref().map(|s| json!(s)),
        ),
        (
            "inflight",
            "inflight",
            settings.inflight.as_ref().map(|s| json!(s)),
        ),
        (
            "rate-limit",
            "rate_limit",
            settings.rate_limit.as_ref().map(|s| json!(s)),
        ),
    ] {
        // Order is the chain's: refuse by address before counting anything.
        if let Some(value) = value {
            let name = format!("{namespace}.{}.{suffix}", object.name);
            out.add_policy(object, json!({"name": name, kind: value}));
            policies.push(name);
        }
    }

    policies.extend(settings.attached.iter().cloned());

    // Hosts served over HTTPS: declared in `spec.tls` with a valid Secret
    // whose certificate covers them. The rest is served on `http` only, so
    // the HTTPS listener never offers a host without its certificate.
    let mut tls_hosts = std::collections::BTreeSet::new();
    for (t, tls) in spec.tls.iter().flatten().enumerate() {
        let Some(secret) = &tls.secret_name else {
            continue;
        };
        let subject = format!("spec.tls[{t}].secretName");
        match certificate(index, namespace, secret) {
            Ok((pem, names)) => {
                for host in tls.hosts.iter().flatten() {
                    if names
                        .iter()
                        .any(|n| crate::tls::certs::name_covers(n, host))
                    {
                        tls_hosts.insert(host.to_ascii_lowercase());
                    } else {
                        report.push(object, format!("spec.tls[{t}].hosts"), Outcome::Skipped, format!(
                            "the certificate in Secret {namespace}/{secret} does not cover {host:?}; it is served over plain HTTP only"
                        ));
                    }
                }
                out.add_certificate(object, (namespace.to_owned(), secret.clone()), pem);
            }
            Err(why) => report.push(
                object,
                subject,
                Outcome::Skipped,
                format!("{why}; its hosts are served over plain HTTP only"),
            ),
        }
    }
    let listeners = |host: &str| {
        if tls_hosts.contains(&host.to_ascii_lowercase()) {
            json!(["http", "https"])
        } else {
            json!(["http"])
        }
    };

    let mut hosts_seen = Vec::new();
    for (r, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.clone().unwrap_or_default();
        hosts_seen.push(host.clone());
        if let Some(root) = &settings.app_root {
            let key = RouteKey::new(&host, "exact", "/");
            let route = json!({
                "name": format!("{namespace}.{}.r{r}.app-root", object.name),
                "match": matches(&host, PathMatchSpec { exact: Some("/".into()), ..Default::default() }),
                "policies": policies,
                "listeners": listeners(&host),
                "direct_response": {"status": 302, "headers": {"location": root}},
            });
            out.add_route(object, key, route, report);
        }
        for (p, path) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
            let subject = format!("spec.rules[{r}].http.paths[{p}]");
            let raw = path.path.clone().unwrap_or_else(|| "/".to_owned());
            let (kind, path_match) = match path.path_type.as_str() {
                "Exact" => (
                    "exact",
                    PathMatchSpec {
                        exact: Some(raw.clone()),
                        ..Default::default()
                    },
                ),
                "ImplementationSpecific" if settings.use_regex => (
                    "regex",
                    PathMatchSpec {
                        regex: Some(format!("(?i){raw}.*")),
                        ..Default::default()
                    },
                ),
                "Prefix" | "ImplementationSpecific" => {
                    let trimmed = raw.trim_end_matches('/');
                    let prefix = if trimmed.is_empty() { "/" } else { trimmed };
                    (
                        "prefix",
                        PathMatchSpec {
                            prefix: Some(prefix.to_owned()),
                            ..Default::default()
                        },
                    )
                }
                other => {
                    report.push(
                        object,
                        format!("{subject}.pathType"),
                        Outcome::Skipped,
                        format!("unknown pathType {other:?}"),
                    );
                    continue;
                }
            };
            let value = path_match
                .exact
                .clone()
                .or(path_match.prefix.clone())
                .or(path_match.regex.clone())
                .unwrap_or_default();
            let key = RouteKey::new(&host, kind, &value);
            let name = format!("{namespace}.{}.r{r}.p{p}", object.name);
            let action = action(
                object,
                &path.backend,
                settings,
                context,
                out,
                report,
                &subject,
            );
            let mut route = json!({"name": name, "match": matches(&host, path_match), "policies": policies, "listeners": listeners(&host)});
            merge(&mut route, action);
            out.add_route(object, key, route, report);
        }
    }
    if let Some(default) = &spec.default_backend {
        let key = RouteKey::new("", "prefix", "/");
        let action = action(
            object,
            default,
            settings,
            context,
            out,
            report,
            "spec.defaultBackend",
        );
        let mut route = json!({
            "name": format!("{namespace}.{}.default", object.name),
            "match": {"path": {"prefix": "/"}},
            "policies": policies,
            "listeners": ["http"],
        });
        merge(&mut route, action);
        out.add_route(object, key, route, report);
    }
    out.note_hosts(object, hosts_seen);
}

fn matches(host: &str, path: PathMatchSpec) -> Value {
    let mut m = json!({"path": path});
    if !host.is_empty() {
        m["hosts"] = json!([host]);
    }
    m
}

fn merge(route: &mut Value, action: Value) {
    if let (Some(route), Value::Object(action)) = (route.as_object_mut(), action) {
        route.extend(action);
    }
}

/// `backend` or `direct_response` for one path; failures answer 503 so the
/// path fails closed rather than falling through to another route.
fn action(
    object: &ObjectRef,
    backend: &IngressBackend,
    settings: &IngressSettings,
    context: &Context<'_>,
    out: &mut Builder,
    report: &mut Report,
    subject: &str,
) -> Value {
    if let Some((url, code)) = &settings.permanent_redirect {
        return json!({"direct_response": {"status": code, "headers": {"location": url}}});
    }
    let unavailable =
        |why: &str| json!({"direct_response": {"status": 503, "body": format!("{why}\n")}});
    let Some(service) = &backend.service else {
        report.push(
            object,
            format!("{subject}.backend"),
            Outcome::NotConverted,
            "resource backends are not supported; answers 503",
        );
        return unavailable("backend unavailable");
    };
    match service_backend(object, service, settings, context) {
        Ok(spec) => {
            let name = spec.name.clone();
            out.add_backend(object, spec);
            json!({"backend": name})
        }
        Err(why) => {
            report.push(
                object,
                format!("{subject}.backend"),
                Outcome::Skipped,
                format!("{why}; answers 503"),
            );
            unavailable("backend unavailable")
        }
    }
}

/// The backend for a Service port: its ready endpoints from EndpointSlices,
/// or the external name of an `ExternalName` Service.
fn service_backend(
    object: &ObjectRef,
    backend: &IngressServiceBackend,
    settings: &IngressSettings,
    context: &Context<'_>,
) -> Result<BackendSpec, BackendError> {
    service_backend_in(&object.name, &object.namespace, backend, settings, context)
}

/// Why a Service reference gave no backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The Service (or its port) does not exist.
    NotFound(String),
    /// The Service exists but has no ready endpoints.
    NoEndpoints(String),
    Invalid(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(m) | Self::NoEndpoints(m) | Self::Invalid(m) => f.write_str(m),
        }
    }
}

/// [`service_backend`] for a Service in `namespace`, named after `owner`
/// (the object referring to it, which may live in another namespace).
pub fn service_backend_in(
    owner: &str,
    namespace: &str,
    backend: &IngressServiceBackend,
    settings: &IngressSettings,
    context: &Context<'_>,
) -> Result<BackendSpec, BackendError> {
    use BackendError::{Invalid, NoEndpoints, NotFound};
    let invalid = |m: &str| Invalid(m.to_owned());
    let key = (namespace.to_owned(), backend.name.clone());
    let wanted = backend
        .port
        .as_ref()
        .ok_or_else(|| invalid("no service port"))?;
    let service = context.index.services.get(&key);
    if context.service_dns {
        // Through the Service's cluster IP: its port, found by name when
        // the Service is in the input.
        let port = match (&wanted.name, wanted.number, service) {
            (_, Some(n), _) => n,
            (Some(name), None, Some(s)) => s
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.port)
                .ok_or_else(|| {
                    NotFound(format!(
                        "Service {namespace}/{} has no port {name:?}",
                        backend.name
                    ))
                })?,
            (Some(name), None, None) => {
                return Err(Invalid(format!(
                    "port {name:?} is named: include Service {namespace}/{} in the input to resolve it",
                    backend.name
                )));
            }
            (None, None, _) => return Err(invalid("no service port")),
        };
        let name = format!("{namespace}.{owner}.{}.{port}", backend.name);
        let address = format!("{}.{namespace}.svc:{port}", backend.name);
        let mut spec: BackendSpec =
            serde_json::from_value(json!({"name": name, "endpoints": [{"address": address}]}))
                .map_err(|e| Invalid(format!("internal: {e}")))?;
        annotations::apply_to_backend(settings, &mut spec);
        return Ok(spec);
    }
    let service: &Service = service
        .ok_or_else(|| NotFound(format!("Service {namespace}/{} not found", backend.name)))?;
    let spec = service
        .spec
        .as_ref()
        .ok_or_else(|| invalid("Service has no spec"))?;
    let label = match (&wanted.name, wanted.number) {
        (Some(name), _) => name.clone(),
        (None, Some(number)) => number.to_string(),
        (None, None) => return Err(invalid("no service port")),
    };
    let mut endpoints = Vec::new();
    if spec.type_.as_deref() == Some("ExternalName") {
        let host = spec
            .external_name
            .as_deref()
            .ok_or_else(|| invalid("ExternalName Service without externalName"))?;
        let port = wanted
            .number
            .ok_or_else(|| invalid("an ExternalName Service needs a port number"))?;
        endpoints.push(json!({"address": format!("{host}:{port}")}));
    } else {
        let port = spec
            .ports
            .iter()
            .flatten()
            .find(|p| match (&wanted.name, wanted.number) {
                (Some(name), _) => p.name.as_deref() == Some(name.as_str()),
                (None, Some(n)) => p.port == n,
                _ => false,
            })
            .ok_or_else(|| {
                NotFound(format!(
                    "Service {namespace}/{} has no port {label}",
                    backend.name
                ))
            })?;
        let port_name = port.name.clone().unwrap_or_default();
        let slices = context.slices.get(&(namespace, backend.name.as_str()));
        for slice in slices.into_iter().flatten() {
            let Some(slice_port) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.clone().unwrap_or_default() == port_name)
                .and_then(|p| p.port)
            else {
                continue;
            };
            for endpoint in slice.endpoints.iter().flatten() {
                // `ready` unset means ready; terminating endpoints are not ready.
                let ready = endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true);
                if !ready {
                    continue;
                }
                for address in endpoint.addresses.iter() {
                    let address = match address.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]:{slice_port}"),
                        Ok(v4) => format!("{v4}:{slice_port}"),
                        Err(_) => continue,
                    };
                    endpoints.push(json!({"address": address}));
                }
            }
        }
        endpoints.sort_by(|a, b| a["address"].as_str().cmp(&b["address"].as_str()));
        endpoints.dedup();
        if endpoints.is_empty() {
            return Err(NoEndpoints(format!(
                "Service {namespace}/{} port {label} has no ready endpoints",
                backend.name
            )));
        }
    }
    let name = format!("{namespace}.{owner}.{}.{label}", backend.name);
    let mut spec: BackendSpec =
        serde_json::from_value(json!({"name": name, "endpoints": endpoints}))
            .map_err(|e| Invalid(format!("internal: {e}")))?;
    annotations::apply_to_backend(settings, &mut spec);
    Ok(spec)
}

/// PEM text of a `kubernetes.io/tls` Secret, checked: both parts present,
/// parsable, matching and not expired.
pub fn certificate(
    index: &Index,
    namespace: &str,
    name: &str,
) -> Result<((String, String), Vec<String>), String> {
    let secret = index
        .secrets
        .get(&(namespace.to_owned(), name.to_owned()))
        .ok_or_else(|| format!("Secret {namespace}/{name} not found"))?;
    let data: BTreeMap<_, _> = secret.data.clone().unwrap_or_default();
    let part = |key: &str| -> Result<String, String> {
        let bytes = data
            .get(key)
            .ok_or_else(|| format!("Secret {namespace}/{name} has no {key}"))?;
        String::from_utf8(bytes.0.clone())
            .map_err(|_| format!("Secret {namespace}/{name} {key} is not PEM text"))
    };
    let (cert, key) = (part("tls.crt")?, part("tls.key")?);
    if !crate::tls::certs::is_inline_pem(&cert) || !crate::tls::certs::is_inline_pem(&key) {
        return Err(format!(
            "Secret {namespace}/{name}: tls.crt and tls.key must be PEM"
        ));
    }
    let spec = crate::tls::spec::CertificateSpec { cert, key };
    let loaded =
        crate::tls::certs::load(&spec).map_err(|e| format!("Secret {namespace}/{name}: {e}"))?;
    Ok(((spec.cert, spec.key), loaded.names))
}
