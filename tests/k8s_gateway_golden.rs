//! Offline Gateway API translation goldens: the conformance suite's
//! scenarios (`tests/golden/gateway/NAME.yaml`, each loaded after
//! `_common.yaml`) in; the report, the status conditions and the Portcullis
//! model out (`NAME.golden`; `PORTCULLIS_UPDATE_GOLDEN=1` rewrites them).
//! Then the conformance expectations themselves: requests routed through
//! the translated route table reach the backends the suite expects.

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use portcullis::config::spec::RouteSpec;
use portcullis::provider::kube::index::Index;
use portcullis::provider::kube::migrate;
use portcullis::provider::kube::translate::{self, Settings, Translation};
use portcullis::route::{RequestView, RouteTable};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/gateway")
}

fn translate_scenario(name: &str) -> Translation {
    let mut index = Index::default();
    for file in ["_common.yaml", &format!("{name}.yaml")] {
        let ignored = index
            .load_yaml(&std::fs::read_to_string(dir().join(file)).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(ignored.is_empty(), "{file}: {ignored:?}");
    }
    let t = translate::translate(&index, &Settings::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let issues = portcullis::config::validate::validate(&t.loaded.config);
    assert!(issues.is_empty(), "{name}: {issues:?}");
    t
}

#[test]
fn gateway_translations_match_their_goldens() {
    let update = std::env::var_os("PORTCULLIS_UPDATE_GOLDEN").is_some();
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && !f.starts_with('_'))
        .map(|f| f.trim_end_matches(".yaml").to_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    let mut failures = Vec::new();
    for name in names {
        let t = translate_scenario(&name);
        let mut text = String::from("# status\n");
        for line in t.gateway.render().lines() {
            text.push_str(&format!("# {line}\n"));
        }
        text.push_str(&migrate::render(&t).unwrap());
        let golden = dir().join(format!("{name}.golden"));
        if update {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == text => {}
            Ok(expected) => failures.push(format!(
                "{name}: differs from {}\n--- expected\n{expected}\n--- got\n{text}",
                golden.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing; run with PORTCULLIS_UPDATE_GOLDEN=1",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The route table of the `http` listener.
struct Table {
    routes: Vec<RouteSpec>,
    table: RouteTable<usize>,
}

impl Table {
    fn of(t: &Translation) -> Self {
        let routes: Vec<RouteSpec> = t
            .loaded
            .config
            .routes
            .iter()
            .filter(|r| r.listeners.is_empty() || r.listeners.iter().any(|l| l == "http"))
            .cloned()
            .collect();
        let table = RouteTable::build(
            routes
                .iter()
                .enumerate()
                .map(|(i, r)| (r.matches.clone(), i))
                .collect(),
        )
        .unwrap();
        Self { routes, table }
    }

    /// The route serving the request, by name.
    fn find(
        &self,
        method: &str,
        host: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Option<&RouteSpec> {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let view = RequestView {
            host,
            path,
            query,
            method: &method,
            headers: &map,
        };
        self.table.find(&view).map(|i| &self.routes[*i])
    }

    fn backend(&self, method: &str, host: &str, target: &str, headers: &[(&str, &str)]) -> String {
        match self.find(method, host, target, headers) {
            None => "404".into(),
            Some(r) => match (&r.backend, &r.direct_response) {
                (Some(b), _) => b.rsplit('.').nth(1).unwrap_or_default().to_owned(),
                (None, Some(d)) => d.status.to_string(),
                _ => format!("{} {:?}", r.name, r.backends),
            },
        }
    }
}

#[test]
fn header_matching_reaches_the_conformance_backends() {
    let t = Table::of(&translate_scenario("header_matching"));
    let b = |headers: &[(&str, &str)]| t.backend("GET", "example.com", "/", headers);
    assert_eq!(b(&[("version", "one")]), "infra-backend-v1");
    assert_eq!(b(&[("version", "two")]), "infra-backend-v2");
    assert_eq!(
        b(&[("version", "two"), ("color", "orange")]),
        "infra-backend-v1"
    );
    assert_eq!(
        b(&[("version", "one"), ("color", "orange")]),
        "infra-backend-v1"
    );
    assert_eq!(b(&[("color", "blue")]), "infra-backend-v1");
    assert_eq!(b(&[("color", "green")]), "infra-backend-v1");
    assert_eq!(b(&[("color", "red")]), "infra-backend-v2");
    assert_eq!(b(&[("color", "yellow")]), "infra-backend-v2");
    assert_eq!(b(&[("x-build", "v12")]), "infra-backend-v3");
    assert_eq!(b(&[("x-build", "beta")]), "404");
    assert_eq!(b(&[("color", "purple")]), "404");
    // Header names are case-insensitive.
    assert_eq!(b(&[("Version", "one")]), "infra-backend-v1");
}

#[test]
fn path_matching_follows_the_spec_precedence() {
    let tr = translate_scenario("path_precedence");
    let t = Table::of(&tr);
    let b = |m: &str, target: &str| t.backend(m, "example.com", target, &[]);
    assert_eq!(b("GET", "/"), "infra-backend-v1");
    assert_eq!(b("GET", "/v2"), "infra-backend-v2");
    assert_eq!(b("GET", "/v2/"), "infra-backend-v2");
    assert_eq!(b("GET", "/v2/example"), "infra-backend-v3");
    assert_eq!(b("GET", "/v2/example/more"), "infra-backend-v2");
    // Prefixes match whole segments.
    assert_eq!(b("GET", "/v2example"), "infra-backend-v1");
    assert_eq!(b("GET", "/regex/abc"), "infra-backend-v3");
    // Same prefix: a method match, then a query match, beat none.
    assert_eq!(b("POST", "/v2"), "infra-backend-v1");
    assert_eq!(b("GET", "/v2?animal=whale"), "infra-backend-v3");
    assert_eq!(b("GET", "/v2?animal=dolphin"), "infra-backend-v2");
    // Across routes: the younger route's other rule serves; its duplicate
    // of the older route's match does not.
    assert_eq!(b("GET", "/younger/x"), "infra-backend-v2");
    let conflict = tr
        .report
        .findings
        .iter()
        .find(|f| f.object.name == "younger")
        .expect("the conflict is reported");
    assert!(conflict.detail.contains("older object wins"), "{conflict}");
}

#[test]
fn weights_and_invalid_backends() {
    let tr = translate_scenario("weighted_backends");
    let t = Table::of(&tr);
    let route = t.find("GET", "example.com", "/weighted", &[]).unwrap();
    let split: Vec<(String, u32)> = route
        .backends
        .iter()
        .map(|w| (w.name.clone(), w.weight))
        .collect();
    assert_eq!(
        split,
        [
            ("gateway-conformance-infra.httproute.gateway-conformance-infra.weighted.infra-backend-v1.8080".to_owned(), 70),
            ("gateway-conformance-infra.httproute.gateway-conformance-infra.weighted.infra-backend-v2.8080".to_owned(), 30),
        ]
    );
    assert_eq!(t.backend("GET", "example.com", "/missing", &[]), "500");
    assert_eq!(t.backend("GET", "example.com", "/unknown-kind", &[]), "500");
    let status = |name: &str| {
        tr.gateway.routes[&("gateway-conformance-infra".to_owned(), name.to_owned())].parents[0]
            .conditions
            .iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status("missing-backend"),
        [
            ("Accepted", true, "Accepted"),
            ("ResolvedRefs", false, "BackendNotFound")
        ]
    );
    assert_eq!(
        status("unknown-kind"),
        [
            ("Accepted", true, "Accepted"),
            ("ResolvedRefs", false, "InvalidKind")
        ]
    );
    assert_eq!(
        status("weighted"),
        [
            ("Accepted", true, "Accepted"),
            ("ResolvedRefs", true, "ResolvedRefs")
        ]
    );
}

#[test]
fn cross_namespace_backends_need_a_reference_grant() {
    let tr = translate_scenario("cross_namespace");
    let t = Table::of(&tr);
    assert_eq!(
        t.backend("GET", "example.com", "/granted", &[]),
        "web-backend"
    );
    assert_eq!(t.backend("GET", "example.com", "/refused", &[]), "500");
    assert_eq!(
        t.backend("GET", "example.com", "/still-served", &[]),
        "infra-backend-v1"
    );
    assert_eq!(t.backend("GET", "web.example.com", "/", &[]), "web-backend");
    let refused = &tr.gateway.routes[&(
        "gateway-conformance-infra".to_owned(),
        "cross-ns-refused".to_owned(),
    )];
    let resolved = refused.parents[0]
        .conditions
        .iter()
        .find(|c| c.type_ == "ResolvedRefs")
        .unwrap();
    assert_eq!(
        (resolved.status, resolved.reason),
        (false, "RefNotPermitted")
    );
}

#[test]
fn hostnames_intersect_with_listener_hostnames() {
    let tr = translate_scenario("hostnames");
    let t = Table::of(&tr);
    let b = |host: &str, path: &str| t.backend("GET", host, path, &[]);
    assert_eq!(b("very.specific.com", "/s1"), "infra-backend-v1");
    assert_eq!(b("non.matching.com", "/s1"), "404");
    assert_eq!(b("foo.wildcard.io", "/s2"), "infra-backend-v2");
    assert_eq!(b("foo.bar.wildcard.io", "/s2"), "infra-backend-v2");
    assert_eq!(b("wildcard.io", "/s2"), "404");
    assert_eq!(b("x.anotherwildcard.io", "/s3"), "infra-backend-v3");
    assert_eq!(b("very.specific.com", "/s3"), "404");
    let none = &tr.gateway.routes[&(
        "gateway-conformance-infra".to_owned(),
        "no-intersecting-hosts".to_owned(),
    )];
    assert_eq!(
        none.parents[0].conditions[0].reason,
        "NoMatchingListenerHostname"
    );
    let gw = &tr.gateway.gateways[&(
        "gateway-conformance-infra".to_owned(),
        "httproute-hostname-intersection".to_owned(),
    )];
    let attached: Vec<(&str, i32)> = gw
        .listeners
        .iter()
        .map(|l| (l.name.as_str(), l.attached_routes))
        .collect();
    assert_eq!(
        attached,
        [("listener-1", 1), ("listener-2", 1), ("listener-3", 1)]
    );
}

#[test]
fn listeners_admit_routes_by_namespace_and_kind() {
    let tr = translate_scenario("allowed_routes");
    let reasons = |ns: &str, name: &str| -> Vec<&str> {
        tr.gateway.routes[&(ns.to_owned(), name.to_owned())]
            .parents
            .iter()
            .map(|p| p.conditions[0].reason)
            .collect()
    };
    assert_eq!(
        reasons("gateway-conformance-web-backend", "labelled-namespace"),
        ["Accepted"]
    );
    assert_eq!(
        reasons("gateway-conformance-app-backend", "unlabelled-namespace"),
        ["NotAllowedByListeners", "NotAllowedByListeners"]
    );
    // The other controller's Gateway gets no entry.
    assert_eq!(
        reasons("gateway-conformance-infra", "bad-parents"),
        [
            "NoMatchingParent",
            "NoMatchingParent",
            "NotAllowedByListeners"
        ]
    );
    let gw = &tr.gateway.gateways[&("gateway-conformance-infra".to_owned(), "shared".to_owned())];
    let listener = |name: &str| gw.listeners.iter().find(|l| l.name == name).unwrap();
    assert_eq!(listener("selected").attached_routes, 1);
    assert!(listener("tcp-only-kinds").supported_kinds.is_empty());
    assert!(
        listener("tcp-only-kinds")
            .conditions
            .iter()
            .any(|c| c.reason == "InvalidRouteKinds")
    );
    assert!(
        listener("tcp")
            .conditions
            .iter()
            .any(|c| c.reason == "UnsupportedProtocol")
    );
    assert_eq!(gw.conditions[0].reason, "ListenersNotValid");
    assert!(!tr.gateway.gateways.contains_key(&(
        "gateway-conformance-infra".to_owned(),
        "other-controllers-gateway".to_owned()
    )));
    assert!(!tr.gateway.classes.contains_key("someone-else"));
    let t = Table::of(&tr);
    assert_eq!(
        t.backend("GET", "selected.example.com", "/", &[]),
        "web-backend"
    );
}

#[test]
fn filters_map_onto_route_features_and_bad_routes_are_reported() {
    let tr = translate_scenario("filters");
    let t = Table::of(&tr);
    let set = t.find("GET", "example.com", "/set", &[]).unwrap();
    let headers = set.request_headers.as_ref().unwrap();
    assert_eq!(headers.set[0].name, "X-Header-Set");
    // A literal `$` stays literal.
    assert_eq!(headers.add[0].value, "add-appends-$$values");
    assert_eq!(headers.remove, ["X-Header-Remove"]);
    let timeouts = set.timeouts.as_ref().unwrap();
    assert_eq!(timeouts.request, Some(std::time::Duration::from_secs(10)));
    assert_eq!(
        timeouts.backend_request,
        Some(std::time::Duration::from_millis(500))
    );
    let redirect = t
        .find("GET", "example.com", "/scheme-and-host", &[])
        .unwrap()
        .redirect
        .clone()
        .unwrap();
    assert_eq!(
        (
            redirect.scheme.as_deref(),
            redirect.hostname.as_deref(),
            redirect.port,
            redirect.status_code
        ),
        (Some("https"), Some("example.org"), Some(443), 301)
    );
    assert!(
        t.find("GET", "example.com", "/prefix/one/x", &[])
            .unwrap()
            .rewrite
            .is_some()
    );
    let mirrored = t.find("GET", "example.com", "/mirror", &[]).unwrap();
    let mirror = mirrored.mirror.as_ref().unwrap();
    assert!(
        mirror.backend.ends_with(".infra-backend-v2.8080"),
        "{mirror:?}"
    );
    assert_eq!(mirror.percent, 25);
    assert_eq!(
        t.backend("GET", "example.com", "/mirror", &[]),
        "infra-backend-v1"
    );
    assert_eq!(t.backend("GET", "example.com", "/cors", &[]), "500");
    let filters =
        &tr.gateway.routes[&("gateway-conformance-infra".to_owned(), "filters".to_owned())];
    let partially = filters.parents[0]
        .conditions
        .iter()
        .find(|c| c.type_ == "PartiallyInvalid")
        .unwrap();
    assert!(
        partially.message.starts_with("Dropped Rule"),
        "{}",
        partially.message
    );
    // The invalid regex: skipped, reported, its host fails closed.
    let bad = &tr.gateway.routes[&(
        "gateway-conformance-infra".to_owned(),
        "bad-regex".to_owned(),
    )];
    assert_eq!(
        (
            bad.parents[0].conditions[0].status,
            bad.parents[0].conditions[0].reason
        ),
        (false, "UnsupportedValue")
    );
    assert_eq!(t.backend("GET", "regex.example.com", "/", &[]), "503");
}

fn tls_secret(index: &mut Index, namespace: &str, name: &str, host: &str) {
    use k8s_openapi::ByteString;
    let cert = rcgen::generate_simple_self_signed(vec![host.into()]).unwrap();
    let mut secret = k8s_openapi::api::core::v1::Secret::default();
    secret.metadata.name = Some(name.into());
    secret.metadata.namespace = Some(namespace.into());
    secret.type_ = Some("kubernetes.io/tls".into());
    secret.data = Some(
        [
            (
                "tls.crt".to_owned(),
                ByteString(cert.cert.pem().into_bytes()),
            ),
            (
                "tls.key".to_owned(),
                ByteString(cert.signing_key.serialize_pem().into_bytes()),
            ),
        ]
        .into(),
    );
    index
        .secrets
        .insert((namespace.into(), name.into()), secret);
}

#[test]
fn https_listeners_take_certificates_from_secrets_a_reference_grant_permits() {
    let mut index = Index::default();
    index
        .load_yaml(&std::fs::read_to_string(dir().join("_common.yaml")).unwrap())
        .unwrap();
    tls_secret(
        &mut index,
        "gateway-conformance-infra",
        "same-ns",
        "same.example.com",
    );
    tls_secret(
        &mut index,
        "gateway-conformance-web-backend",
        "granted",
        "granted.example.com",
    );
    tls_secret(
        &mut index,
        "gateway-conformance-app-backend",
        "not-granted",
        "x.example.com",
    );
    index
        .load_yaml(
            r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tls, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: same, port: 443, protocol: HTTPS, hostname: same.example.com,
       tls: {certificateRefs: [{name: same-ns}]}}
    - {name: granted, port: 443, protocol: HTTPS, hostname: granted.example.com,
       tls: {certificateRefs: [{name: granted, namespace: gateway-conformance-web-backend}]}}
    - {name: refused, port: 443, protocol: HTTPS, hostname: x.example.com,
       tls: {certificateRefs: [{name: not-granted, namespace: gateway-conformance-app-backend}]}}
    - {name: missing, port: 443, protocol: HTTPS, hostname: missing.example.com,
       tls: {certificateRefs: [{name: nowhere}]}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateway-certs, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: tls}]
  rules:
    - backendRefs: [{name: infra-backend-v1, port: 8080}]
"#,
        )
        .unwrap();
    let t = translate::translate(&index, &Settings::default()).unwrap();
    let gw = &t.gateway.gateways[&("gateway-conformance-infra".to_owned(), "tls".to_owned())];
    let resolved = |name: &str| {
        let l = gw.listeners.iter().find(|l| l.name == name).unwrap();
        let c = l
            .conditions
            .iter()
            .find(|c| c.type_ == "ResolvedRefs")
            .unwrap();
        (c.status, c.reason, l.attached_routes)
    };
    assert_eq!(resolved("same"), (true, "ResolvedRefs", 1));
    assert_eq!(resolved("granted"), (true, "ResolvedRefs", 1));
    assert_eq!(resolved("refused"), (false, "RefNotPermitted", 0));
    assert_eq!(resolved("missing"), (false, "InvalidCertificateRef", 0));
    // Two certificates on the HTTPS listener; the route is served there
    // for the two listeners' hostnames only.
    let https = t
        .loaded
        .config
        .listeners
        .iter()
        .find(|l| l.name == "https")
        .expect("https listener");
    assert_eq!(https.tls.as_ref().unwrap().certificates.len(), 2);
    let mut hosts: Vec<(Vec<String>, Vec<String>)> = t
        .loaded
        .config
        .routes
        .iter()
        .filter(|r| r.name.starts_with("gateway-conformance-infra.secure."))
        .map(|r| (r.listeners.clone(), r.matches.hosts.clone()))
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        [
            (
                vec!["https".to_owned()],
                vec!["granted.example.com".to_owned()]
            ),
            (
                vec!["https".to_owned()],
                vec!["same.example.com".to_owned()]
            ),
        ]
    );
    portcullis::config::compile::compile(
        t.loaded.config,
        None,
        &portcullis::observe::access_log::AccessLog::disabled(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
}

#[test]
fn policy_objects_attach_to_gateways_routes_and_ingresses() {
    let tr = translate_scenario("policies");
    let t = Table::of(&tr);
    let web = t.find("GET", "web.example.com", "/", &[]).unwrap();
    // The Gateway's policy, then the route's.
    assert_eq!(
        web.policies,
        [
            "gateway-conformance-infra.policy.per-client",
            "gateway-conformance-infra.policy.office-only"
        ]
    );
    assert!(
        tr.loaded
            .config
            .policies
            .iter()
            .any(|p| p.name == "gateway-conformance-infra.policy.office-only"
                && p.ip_filter.is_some())
    );
    // The route the bad Policy targets fails closed, as does the Ingress
    // naming it; the Ingress naming the good one carries it.
    assert_eq!(t.backend("GET", "locked.example.com", "/", &[]), "503");
    assert_eq!(t.backend("GET", "legacy-typo.example.com", "/", &[]), "503");
    let legacy = t.find("GET", "legacy.example.com", "/", &[]).unwrap();
    assert_eq!(
        legacy.policies,
        ["gateway-conformance-infra.policy.office-only"]
    );
    let status = |name: &str| {
        &tr.gateway.policies[&("gateway-conformance-infra".to_owned(), name.to_owned())]
    };
    let typo = status("typo");
    assert_eq!(
        (typo.conditions[0].status, typo.conditions[0].reason),
        (false, "Invalid")
    );
    assert!(
        typo.conditions[0].message.contains("alow"),
        "{}",
        typo.conditions[0].message
    );
    let office = status("office-only");
    assert_eq!(office.conditions[0].reason, "Accepted");
    let mut where_: Vec<String> = office.ancestors.iter().map(ToString::to_string).collect();
    where_.sort();
    assert_eq!(
        where_,
        [
            "gateway-conformance-infra/HTTPRoute/web",
            "gateway-conformance-infra/Ingress/legacy"
        ]
    );
}

#[test]
fn the_gateway_example_translates() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let mut index = Index::default();
    let ignored = index
        .load_yaml(&std::fs::read_to_string(examples.join("gateway.yaml")).unwrap())
        .unwrap();
    assert!(ignored.is_empty(), "{ignored:?}");
    index
        .load_yaml(&std::fs::read_to_string(dir().join("_common.yaml")).unwrap())
        .unwrap();
    let settings = Settings {
        service_dns: true,
        ..Settings::default()
    };
    let t = translate::translate(&index, &settings).unwrap();
    let issues = portcullis::config::validate::validate(&t.loaded.config);
    assert!(issues.is_empty(), "{issues:?}");
    let routes: Vec<&RouteSpec> = t
        .loaded
        .config
        .routes
        .iter()
        .filter(|r| r.name.starts_with("shop.shop.httproute."))
        .collect();
    assert_eq!(routes.len(), 2, "{routes:?}");
    let split = routes.iter().find(|r| !r.backends.is_empty()).unwrap();
    assert_eq!(
        split.backends.iter().map(|b| b.weight).collect::<Vec<_>>(),
        [90, 10]
    );
    assert_eq!(split.policies, ["shop.policy.per-client"]);
    // The Secret is not in the input: the HTTPS listener is not served and
    // says why; the route is served on the plain listener.
    let gw = &t.gateway.gateways[&("shop".to_owned(), "edge".to_owned())];
    let https = gw.listeners.iter().find(|l| l.name == "https").unwrap();
    assert!(
        https
            .conditions
            .iter()
            .any(|c| c.reason == "InvalidCertificateRef")
    );
    assert_eq!(split.listeners, ["http"]);
}
