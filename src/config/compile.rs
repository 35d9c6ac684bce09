//! Compile the validated model into an immutable runtime snapshot: CIDR
//! tries, compiled route tables, backends with pools. A request loads one
//! snapshot and uses it throughout, so a reload never changes a request
//! midway.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::config::spec::{GatewayConfig, ListenerSpec, RouteSpec};
use crate::guard::conn_limit::ConnPolicy;
use crate::listener::client_ip::TrustedProxies;
use crate::net::cidr_table::parse_cidr;
use crate::observe::access_log::AccessLog;
use crate::observe::events::SecurityEvents;
use crate::observe::metrics::{ListenerMetrics, RouteMetrics};
use crate::observe::telemetry::Telemetry;
use crate::policy::deny_list::DenyList;
use crate::policy::{Policy, PolicyChain, PolicyKind};
use crate::route::RouteTable;
use crate::upstream::backend::Backend;

/// One immutable generation of the running configuration.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<GatewayConfig>,
    /// A stable hash of the configuration, for logs and reload events.
    pub hash: String,
    pub listeners: Vec<Arc<ListenerRuntime>>,
    pub backends: HashMap<String, Arc<Backend>>,
    /// Compiled policies by name, so stateful ones survive a reload.
    pub policies: HashMap<String, Arc<Policy>>,
}

/// Everything a connection on one listener needs per request.
#[derive(Debug)]
pub struct ListenerRuntime {
    pub name: Arc<str>,
    pub spec: ListenerSpec,
    pub address: SocketAddr,
    pub routes: RouteTable<Arc<Route>>,
    pub trusted: Arc<TrustedProxies>,
    pub access_log: AccessLog,
    /// Connection limits (the counts live in the accept loop).
    pub conn_policy: ConnPolicy,
    pub events: SecurityEvents,
    pub deny_list: Arc<DenyList>,
    pub metrics: ListenerMetrics,
    /// Metrics for requests no route matched (or refused before routing).
    pub unrouted: Arc<RouteMetrics>,
    /// TLS termination; `None` on a plain listener.
    pub tls: Option<Arc<crate::tls::ListenerTls>>,
    /// Underscore-name and untrusted-header rules of `spec.http`.
    pub hygiene: crate::http::header_hygiene::HeaderHygiene,
    /// The listener-wide anomaly baselines, when configured.
    pub anomaly: Option<Arc<crate::anomaly::Target>>,
}

#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    pub chain: PolicyChain,
    pub action: RouteAction,
    pub metrics: Arc<RouteMetrics>,
    /// Header modifiers and rewrite (`src/http/filter/`).
    pub filters: crate::http::filter::RouteFilters,
    /// A copy of each request to a second backend.
    pub mirror: Option<crate::upstream::mirror::Mirror>,
    /// The route's anomaly detection, when configured.
    pub anomaly: Option<RouteAnomaly>,
}

/// A watched route: its detector target and, in `enforce` mode, the same
/// route compiled with the under-attack policies added to its chain.
#[derive(Debug)]
pub struct RouteAnomaly {
    pub target: Arc<crate::anomaly::Target>,
    pub under_attack: Option<Arc<Route>>,
}

#[derive(Debug)]
pub enum RouteAction {
    Backend(Arc<Backend>),
    Direct(DirectResponse),
    Redirect(crate::http::filter::redirect::Redirect),
    /// Weighted backends and/or a header/cookie canary.
    Split(crate::upstream::split::BackendSplit),
}

#[derive(Debug, Clone)]
pub struct DirectResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A compile failure; the model was validated, so this is a second line of
/// defence naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> CompileError {
    CompileError {
        field: field.into(),
        message: message.into(),
    }
}

/// Compiles `config`. Backends whose spec is unchanged since `previous` are
/// reused as they are (pool, health and balancer state survive the reload).
pub fn compile(
    config: GatewayConfig,
    previous: Option<&Snapshot>,
    access_log: &AccessLog,
) -> Result<Snapshot, Vec<CompileError>> {
    compile_with(config, previous, &Telemetry::detached(access_log.clone()))
}

/// Compiles `config` against the running process's telemetry handles.
pub fn compile_with(
    config: GatewayConfig,
    previous: Option<&Snapshot>,
    telemetry: &Telemetry,
) -> Result<Snapshot, Vec<CompileError>> {
    let access_log = &telemetry.access_log;
    let mut errors = Vec::new();

    let mut trusted = TrustedProxies::default();
    for (i, cidr) in config.server.trusted_proxies.iter().enumerate() {
        match parse_cidr(cidr) {
            Ok(net) => trusted.table.insert(net, ()),
            Err(e) => errors.push(err(format!("server.trusted_proxies[{i}]"), e)),
        }
    }
    let trusted = Arc::new(trusted);

    let mut policies: HashMap<&str, Arc<Policy>> = HashMap::new();
    for (i, spec) in config.policies.iter().enumerate() {
        let previous = previous_policy(previous, &spec.name);
        let env = crate::policy::compile::CompileEnv {
            shared: &telemetry.shared,
            feeds: &config.feeds,
            identity: &telemetry.metrics.identity,
        };
        let kind = match spec.kind() {
            Some(kind_spec) => {
                crate::policy::compile::compile(&spec.name, kind_spec, previous, env)
                    .map_err(|e| (kind_spec.field(), e))
            }
            None => Err(("", "exactly one policy kind must be set".to_owned())),
        };
        let kind = match kind {
            Ok(kind) => kind,
            Err((field, e)) => {
                let path = if field.is_empty() {
                    format!("policies[{i}]")
                } else {
                    format!("policies[{i}].{field}")
                };
                errors.push(err(path, e));
                continue;
            }
        };
        let name: Arc<str> = spec.name.as_str().into();
        let decisions = kind
            .decision_kind()
            .map(|k| telemetry.metrics.identity.decisions(&spec.name, k));
        policies.insert(
            &spec.name,
            Arc::new(Policy {
                name,
                kind,
                decisions,
            }),
        );
    }

    let mut backends: HashMap<String, Arc<Backend>> = HashMap::new();
    for (i, spec) in config.backends.iter().enumerate() {
        let before = previous.and_then(|p| p.backends.get(&spec.name));
        let backend = match before.filter(|b| b.spec == *spec) {
            Some(backend) => Arc::clone(backend),
            // Endpoints that stay keep their pools and health.
            None => match Backend::build_from(spec, before.map(|b| &**b)) {
                Ok(backend) => {
                    let backend = Arc::new(backend);
                    crate::upstream::dns::start(&backend);
                    backend
                }
                Err(e) => {
                    errors.push(err(format!("backends[{i}]"), e));
                    continue;
                }
            },
        };
        backends.insert(spec.name.clone(), backend);
    }

    let log = if config.server.access_log {
        access_log.clone()
    } else {
        AccessLog::disabled()
    };

    let mut listeners = Vec::with_capacity(config.listeners.len());
    for (li, listener) in config.listeners.iter().enumerate() {
        let address: SocketAddr = match listener.address.parse() {
            Ok(a) => a,
            Err(_) => {
                errors.push(err(format!("listeners[{li}].address"), "must be IP:port"));
                continue;
            }
        };
        let mut entries = Vec::new();
        for (ri, route) in config.routes.iter().enumerate() {
            if !route.listeners.is_empty() && !route.listeners.contains(&listener.name) {
                continue;
            }
            let metrics = telemetry.metrics.route(&listener.name, &route.name);
            match compile_route(
                ri,
                route,
                listener,
                &policies,
                &backends,
                Arc::clone(&metrics),
            ) {
                Ok(mut r) => {
                    if let Some(spec) = &route.anomaly {
                        r.anomaly = watch_route(
                            ri, route, spec, listener, &policies, &backends, metrics, telemetry,
                        )
                        .map_err(|mut e| errors.append(&mut e))
                        .ok()
                        .flatten();
                    }
                    entries.push((route.matches.clone(), Arc::new(r)))
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let routes = match RouteTable::build(entries) {
            Ok(t) => t,
            Err(route_errors) => {
                for e in route_errors {
                    errors.push(err(
                        format!("routes[{}].match.{}", e.index, e.field),
                        e.message,
                    ));
                }
                continue;
            }
        };
        let conn_policy = match ConnPolicy::compile(&listener.connections) {
            Ok(p) => p,
            Err(e) => {
                errors.push(err(format!("listeners[{li}].connections"), e));
                continue;
            }
        };
        let tls = match &listener.tls {
            Some(spec) => match crate::tls::ListenerTls::compile(spec) {
                Ok(tls) => Some(Arc::new(tls)),
                Err(tls_errors) => {
                    for e in tls_errors {
                        errors.push(err(format!("listeners[{li}].tls"), e));
                    }
                    continue;
                }
            },
            None => None,
        };
        listeners.push(Arc::new(ListenerRuntime {
            conn_policy,
            tls,
            name: listener.name.as_str().into(),
            spec: listener.clone(),
            address,
            routes,
            trusted: Arc::clone(&trusted),
            access_log: log.clone(),
            events: telemetry.events.clone(),
            deny_list: Arc::clone(&telemetry.deny_list),
            metrics: telemetry.metrics.listener(&listener.name),
            unrouted: telemetry.metrics.route(&listener.name, ""),
            hygiene: crate::http::header_hygiene::HeaderHygiene::from_spec(&listener.http),
            anomaly: config
                .anomaly
                .as_ref()
                .and_then(|a| a.listeners.as_ref())
                .and_then(|spec| telemetry.anomaly.target(&listener.name, "", spec)),
        }));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let policies: HashMap<String, Arc<Policy>> = policies
        .into_iter()
        .map(|(name, policy)| (name.to_owned(), policy))
        .collect();
    Ok(Snapshot {
        hash: config_hash(&config),
        config: Arc::new(config),
        listeners,
        backends,
        policies,
    })
}

/// The route's detector target, and in `enforce` mode the route compiled
/// again with `under_attack_policies` after its own (nothing is removed,
/// so the under-attack chain is stricter by construction).
#[allow(clippy::too_many_arguments)]
fn watch_route(
    index: usize,
    route: &RouteSpec,
    spec: &crate::config::spec_anomaly::AnomalySpec,
    listener: &ListenerSpec,
    policies: &HashMap<&str, Arc<Policy>>,
    backends: &HashMap<String, Arc<Backend>>,
    metrics: Arc<RouteMetrics>,
    telemetry: &Telemetry,
) -> Result<Option<RouteAnomaly>, Vec<CompileError>> {
    let Some(target) = telemetry.anomaly.target(&listener.name, &route.name, spec) else {
        return Ok(None);
    };
    let under_attack = if spec.mode == crate::config::spec_anomaly::AnomalyMode::Enforce {
        let mut strict = route.clone();
        strict
            .policies
            .extend(spec.under_attack_policies.iter().cloned());
        strict.anomaly = None;
        let compiled = compile_route(index, &strict, listener, policies, backends, metrics)
            .map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| CompileError {
                        field: e.field.replace(
                            &format!("routes[{index}].policies"),
                            &format!("routes[{index}].anomaly.under_attack_policies"),
                        ),
                        message: e.message,
                    })
                    .collect::<Vec<_>>()
            })?;
        Some(Arc::new(compiled))
    } else {
        None
    };
    Ok(Some(RouteAnomaly {
        target,
        under_attack,
    }))
}

fn previous_policy<'a>(previous: Option<&'a Snapshot>, name: &str) -> Option<&'a PolicyKind> {
    previous.and_then(|p| p.policies.get(name)).map(|p| &p.kind)
}

fn compile_route(
    index: usize,
    route: &RouteSpec,
    listener: &ListenerSpec,
    policies: &HashMap<&str, Arc<Policy>>,
    backends: &HashMap<String, Arc<Backend>>,
    metrics: Arc<RouteMetrics>,
) -> Result<Route, Vec<CompileError>> {
    let mut errors = Vec::new();
    let mut chain = Vec::new();
    // Listener policies first: they guard everything served on the listener.
    let named = listener
        .policies
        .iter()
        .map(|n| ("listener", n))
        .chain(route.policies.iter().map(|n| ("route", n)));
    for (origin, name) in named {
        match policies.get(name.as_str()) {
            Some(p) => chain.push(Arc::clone(p)),
            None => errors.push(err(
                format!("routes[{index}].policies"),
                format!("unknown {origin} policy {name:?}"),
            )),
        }
    }
    if let Some(redirect) = &route.redirect {
        if route.backend.is_some() || route.direct_response.is_some() {
            errors.push(err(
                format!("routes[{index}].redirect"),
                "a redirect is the route's answer: set only one of backend, direct_response, redirect",
            ));
            return Err(errors);
        }
        let prefix = crate::http::filter::route_prefix(route);
        return match crate::http::filter::redirect::Redirect::compile(redirect, prefix) {
            Ok(r) => Ok(Route {
                name: route.name.as_str().into(),
                chain: PolicyChain::new(chain),
                action: RouteAction::Redirect(r),
                metrics,
                filters: compile_filters(index, route, &mut errors),
                mirror: None,
                anomaly: None,
            })
            .and_then(|r| {
                if errors.is_empty() {
                    Ok(r)
                } else {
                    Err(errors)
                }
            }),
            Err((field, message)) => {
                let field = if field.is_empty() {
                    String::new()
                } else {
                    format!(".{field}")
                };
                errors.push(err(format!("routes[{index}].redirect{field}"), message));
                Err(errors)
            }
        };
    }
    let split = !route.backends.is_empty() || route.canary.is_some();
    let action = match (&route.backend, &route.direct_response) {
        (_, None) if split => {
            let lookup = |name: &str| backends.get(name).cloned();
            match crate::upstream::split::BackendSplit::compile(route, lookup) {
                Ok(s) => RouteAction::Split(s),
                Err((field, message)) => {
                    errors.push(err(format!("routes[{index}].{field}"), message));
                    return Err(errors);
                }
            }
        }
        (Some(name), None) => match backends.get(name) {
            Some(b) => RouteAction::Backend(Arc::clone(b)),
            None => {
                errors.push(err(
                    format!("routes[{index}].backend"),
                    format!("unknown backend {name:?}"),
                ));
                return Err(errors);
            }
        },
        (None, Some(direct)) => {
            let status = StatusCode::from_u16(direct.status).map_err(|_| {
                vec![err(
                    format!("routes[{index}].direct_response.status"),
                    "invalid status",
                )]
            })?;
            let mut headers = HeaderMap::new();
            for (k, v) in &direct.headers {
                match (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    (Ok(k), Ok(v)) => {
                        headers.append(k, v);
                    }
                    _ => errors.push(err(
                        format!("routes[{index}].direct_response.headers.{k}"),
                        "invalid header",
                    )),
                }
            }
            RouteAction::Direct(DirectResponse {
                status,
                headers,
                body: Bytes::from(direct.body.clone()),
            })
        }
        _ => {
            errors.push(err(
                format!("routes[{index}]"),
                "needs exactly one of backend, direct_response and redirect",
            ));
            return Err(errors);
        }
    };
    let filters = compile_filters(index, route, &mut errors);
    let mirror = compile_mirror(index, route, backends, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Route {
        name: route.name.as_str().into(),
        chain: PolicyChain::new(chain),
        action,
        metrics,
        filters,
        mirror,
        anomaly: None,
    })
}

fn compile_filters(
    index: usize,
    route: &RouteSpec,
    errors: &mut Vec<CompileError>,
) -> crate::http::filter::RouteFilters {
    crate::http::filter::RouteFilters::compile(route).unwrap_or_else(|(field, message)| {
        errors.push(err(format!("routes[{index}].{field}"), message));
        Default::default()
    })
}

fn compile_mirror(
    index: usize,
    route: &RouteSpec,
    backends: &HashMap<String, Arc<Backend>>,
    errors: &mut Vec<CompileError>,
) -> Option<crate::upstream::mirror::Mirror> {
    let spec = route.mirror.as_ref()?;
    let Some(backend) = backends.get(spec.backend.as_str()) else {
        errors.push(err(
            format!("routes[{index}].mirror.backend"),
            format!("unknown backend {:?}", spec.backend),
        ));
        return None;
    };
    match crate::upstream::mirror::Mirror::compile(spec, Arc::clone(backend)) {
        Ok(mirror) => Some(mirror),
        Err((field, message)) => {
            errors.push(err(format!("routes[{index}].mirror.{field}"), message));
            None
        }
    }
}

/// A stable hex hash of the model (same config, same hash, across restarts).
pub fn config_hash(config: &GatewayConfig) -> String {
    let text = serde_json::to_vec(config).unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
