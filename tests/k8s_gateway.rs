//! The Gateway API against a real kube-apiserver: the v1.5.1 CRDs installed
//! from shared/k8s, a GatewayClass (the shipped manifest), a Gateway and
//! HTTPRoutes served to upstreams in a network namespace, by a gateway
//! running as `test-user` bound to exactly the shipped ClusterRole. Checks
//! traffic (header match, weighted split, a missing backend answering 500),
//! the status written (GatewayClass, Gateway and listeners, HTTPRoute
//! parents, observedGeneration), that a bad HTTPRoute is reported while
//! the others serve, and that an unchanged status is not written again.

mod k8s;

use std::process::Command;
use std::time::{Duration, Instant};

use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn yaml_documents(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---")
        .map(|doc| portcullis::config::yaml::parse(doc).unwrap().value)
        .filter(|v| v.get("kind").is_some())
        .collect()
}

fn manifests(file: &str) -> Vec<Value> {
    yaml_documents(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/manifests")
            .join(file),
    )
}

async fn get(addr: std::net::SocketAddr, host: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let Ok(Ok(stream)) =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await
    else {
        return (0, String::new());
    };
    let io = hyper_util::rt::TokioIo::new(stream);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
        return (0, String::new());
    };
    tokio::spawn(conn);
    let mut req = hyper::Request::get("/").header("host", host);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let req = req
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(2), sender.send_request(req)).await {
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&body).trim().to_owned())
        }
        _ => (0, String::new()),
    }
}

/// Polls until the request answers `status` with `body`; returns how long it took.
async fn until(
    addr: std::net::SocketAddr,
    host: &str,
    headers: &[(&str, &str)],
    status: u16,
    body: &str,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = get(addr, host, headers).await;
        if got.0 == status && got.1 == body {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WAIT,
            "{host} {headers:?}: wanted {status} {body:?}, still {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `check` on the object's JSON until it holds.
async fn until_status<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let value = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if check(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: status never held: {}",
            serde_json::to_string_pretty(&value["status"]).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(status, reason, observedGeneration)` of condition `type_` in `conditions`.
fn condition(conditions: &Value, type_: &str) -> Option<(String, String, i64)> {
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
                c["observedGeneration"].as_i64().unwrap_or(-1),
            )
        })
}

fn is(c: Option<(String, String, i64)>, status: &str, reason: &str, generation: i64) -> bool {
    c == Some((status.to_owned(), reason.to_owned(), generation))
}

fn parent(route: &Value, i: usize) -> &Value {
    &route["status"]["parents"][i]["conditions"]
}

fn slice(name: &str, service: &str, ip: &str, port: i32) -> EndpointSlice {
    object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "shop", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
    }))
}

fn route(name: &str, namespace: &str, host: &str, rules: Value) -> HttpRoute {
    object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}], "hostnames": [host], "rules": rules},
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_against_a_real_api_server() {
    let Some(assets) = k8s::assets() else {
        eprintln!(
            "skipped: no kube-apiserver assets (set PORTCULLIS_K8S_ASSETS or put shared/k8s beside the repository)"
        );
        return;
    };
    let crd_dir = assets.join("gateway-api/v1.5.1");
    let server = tokio::task::block_in_place(|| k8s::ApiServer::start(assets.clone()));
    let admin = server.client(&server.kubeconfig).await;
    let pp = PostParams::default();

    // The standard-channel CRDs, established before anything uses them.
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let mut names = Vec::new();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&crd_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // And the Portcullis Policy CRD.
    files.push(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/manifests/crd-policy.yaml"),
    );
    for file in files {
        for doc in yaml_documents(&file) {
            let crd: CustomResourceDefinition = object(doc);
            names.push(crd.metadata.name.clone().unwrap());
            crds.create(&pp, &crd).await.unwrap();
        }
    }
    for name in &names {
        until_status(&crds, name, name, |v| {
            is(
                condition(&v["status"]["conditions"], "Established").map(|(s, r, _)| (s, r, 0)),
                "True",
                "InitialNamesAccepted",
                0,
            )
        })
        .await;
    }

    // The gateway's identity: test-user bound to exactly the shipped ClusterRole.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(&pp, &object(manifests("namespace.yaml")[0].clone()))
        .await
        .unwrap();
    let role: ClusterRole = object(manifests("rbac.yaml")[1].clone());
    Api::<ClusterRole>::all(admin.clone())
        .create(&pp, &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = object(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "portcullis-test-user"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "portcullis"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "test-user"}],
    }));
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&pp, &binding)
        .await
        .unwrap();
    let user_config = server.kubeconfig_for("local-test-user");
    let user = server.client(&user_config).await;
    // Minimal: it may not change Gateway API specs, only status.
    let user_routes: Api<HttpRoute> = Api::namespaced(user.clone(), "shop");
    assert!(
        user_routes
            .create(&pp, &route("x", "shop", "x.test", json!([])))
            .await
            .is_err()
    );

    // Upstreams in the network namespace: "one" on 8080, "two" on 8081.
    let netns = tokio::task::block_in_place(k8s::NetNs::create);
    let upstream_yaml = format!(
        "admin: {{address: 127.0.0.1:0}}\nserver: {{access_log: false}}\nlisteners:\n  - {{name: one, address: \"{ip}:8080\"}}\n  - {{name: two, address: \"{ip}:8081\"}}\nroutes:\n  - {{name: one, listeners: [one], direct_response: {{status: 200, body: one}}}}\n  - {{name: two, listeners: [two], direct_response: {{status: 200, body: two}}}}\n",
        ip = netns.ns_ip
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("upstream.yaml"), upstream_yaml).unwrap();
    let mut up = Command::new("ip");
    up.args([
        "netns",
        "exec",
        &netns.name,
        env!("CARGO_BIN_EXE_portcullis"),
        "run",
        "--config",
    ])
    .arg(dir.path().join("upstream.yaml"));
    let mut upstream = k8s::Process::spawn(up);
    upstream.wait_line("gateway started", WAIT);

    // Objects: namespaces, Services + EndpointSlices, the class, a Gateway, routes.
    for ns in ["shop", "other"] {
        namespaces
            .create(&pp, &object(json!({"metadata": {"name": ns}})))
            .await
            .unwrap();
    }
    let services: Api<Service> = Api::namespaced(admin.clone(), "shop");
    for name in ["web", "api"] {
        services
            .create(
                &pp,
                &object(json!({"metadata": {"name": name}, "spec": {"ports": [{"name": "http", "port": 80}]}})),
            )
            .await
            .unwrap();
    }
    let slices: Api<EndpointSlice> = Api::namespaced(admin.clone(), "shop");
    slices
        .create(&pp, &slice("web-1", "web", &netns.ns_ip, 8080))
        .await
        .unwrap();
    slices
        .create(&pp, &slice("api-1", "api", &netns.ns_ip, 8081))
        .await
        .unwrap();
    let classes: Api<GatewayClass> = Api::all(admin.clone());
    classes
        .create(&pp, &object(manifests("gatewayclass.yaml")[0].clone()))
        .await
        .unwrap();
    let gateways: Api<Gateway> = Api::namespaced(admin.clone(), "shop");
    gateways
        .create(
            &pp,
            &object(json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "edge", "namespace": "shop"},
                "spec": {"gatewayClassName": "portcullis", "listeners": [
                    {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.test"}]},
            })),
        )
        .await
        .unwrap();
    let routes: Api<HttpRoute> = Api::namespaced(admin.clone(), "shop");
    routes
        .create(
            &pp,
            &route(
                "web",
                "shop",
                "web.test",
                json!([
                    {"matches": [{"headers": [{"name": "x-canary", "value": "yes"}]}],
                     "backendRefs": [{"name": "api", "port": 80}]},
                    {"backendRefs": [{"name": "web", "port": 80}]},
                ]),
            ),
        )
        .await
        .unwrap();
    routes
        .create(
            &pp,
            &route(
                "missing",
                "shop",
                "missing.test",
                json!([{"backendRefs": [{"name": "nowhere", "port": 80}]}]),
            ),
        )
        .await
        .unwrap();
    // From a namespace the listener does not admit (allowedRoutes: Same).
    Api::<HttpRoute>::namespaced(admin.clone(), "other")
        .create(
            &pp,
            &route(
                "foreign",
                "other",
                "foreign.test",
                json!([{"backendRefs": [{"name": "web", "port": 80}]}]),
            ),
        )
        .await
        .unwrap();

    std::fs::write(
        dir.path().join("base.yaml"),
        "admin: {address: 127.0.0.1:0}\nserver: {access_log: false}\n",
    )
    .unwrap();
    let mut gw = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    gw.args([
        "run",
        "--provider",
        "kubernetes",
        "--http-address",
        "127.0.0.1:0",
        "--publish-address",
        "203.0.113.7",
        "--config",
    ])
    .arg(dir.path().join("base.yaml"))
    .env("KUBECONFIG", &user_config);
    let started = Instant::now();
    let mut gateway = k8s::Process::spawn(gw);
    let http = tokio::task::block_in_place(|| gateway.listener("http", WAIT));
    until(http, "web.test", &[], 200, "one").await;
    let first_ready = started.elapsed();
    until(http, "web.test", &[("x-canary", "yes")], 200, "two").await;
    // A missing backend answers 500; the foreign route is not served.
    assert_eq!(get(http, "missing.test", &[]).await.0, 500);
    assert_eq!(get(http, "foreign.test", &[]).await.0, 404);

    // Status, as the spec defines it.
    until_status(&classes, "portcullis", "GatewayClass", |v| {
        is(
            condition(&v["status"]["conditions"], "Accepted"),
            "True",
            "Accepted",
            1,
        )
    })
    .await;
    let edge = until_status(&gateways, "edge", "Gateway", |v| {
        let s = &v["status"];
        is(
            condition(&s["conditions"], "Accepted"),
            "True",
            "Accepted",
            1,
        ) && is(
            condition(&s["conditions"], "Programmed"),
            "True",
            "Programmed",
            1,
        ) && s["listeners"][0]["attachedRoutes"] == 2
            && s["addresses"][0]["value"] == "203.0.113.7"
    })
    .await;
    let listener = &edge["status"]["listeners"][0];
    assert!(is(
        condition(&listener["conditions"], "ResolvedRefs"),
        "True",
        "ResolvedRefs",
        1
    ));
    assert_eq!(listener["supportedKinds"][0]["kind"], "HTTPRoute");
    let web = until_status(&routes, "web", "HTTPRoute web", |v| {
        is(condition(parent(v, 0), "Accepted"), "True", "Accepted", 1)
            && is(
                condition(parent(v, 0), "ResolvedRefs"),
                "True",
                "ResolvedRefs",
                1,
            )
    })
    .await;
    assert_eq!(
        web["status"]["parents"][0]["controllerName"],
        "portcullis.dev/gateway-controller"
    );
    until_status(&routes, "missing", "HTTPRoute missing", |v| {
        is(condition(parent(v, 0), "Accepted"), "True", "Accepted", 1)
            && is(
                condition(parent(v, 0), "ResolvedRefs"),
                "False",
                "BackendNotFound",
                1,
            )
    })
    .await;
    let foreign: Api<HttpRoute> = Api::namespaced(admin.clone(), "other");
    until_status(&foreign, "foreign", "HTTPRoute foreign", |v| {
        is(
            condition(parent(v, 0), "Accepted"),
            "False",
            "NotAllowedByListeners",
            1,
        )
    })
    .await;

    // A bad HTTPRoute (invalid regex) is reported in its status; the
    // others keep serving.
    routes
        .create(
            &pp,
            &route(
                "bad-regex",
                "shop",
                "regex.test",
                json!([{"matches": [{"path": {"type": "RegularExpression", "value": "/(unclosed"}}],
                        "backendRefs": [{"name": "web", "port": 80}]}]),
            ),
        )
        .await
        .unwrap();
    until_status(&routes, "bad-regex", "HTTPRoute bad-regex", |v| {
        is(
            condition(parent(v, 0), "Accepted"),
            "False",
            "UnsupportedValue",
            1,
        )
    })
    .await;
    until(http, "regex.test", &[], 503, "backend unavailable").await;
    assert_eq!(get(http, "web.test", &[]).await, (200, "one".to_owned()));

    // A spec change is served within a second and observed in status.
    let patch = json!({"spec": {"rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}});
    let changed = Instant::now();
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    until(http, "web.test", &[], 200, "two").await;
    let to_traffic = changed.elapsed();
    assert!(
        to_traffic < Duration::from_secs(1),
        "HTTPRoute change took {to_traffic:?}"
    );
    let web = until_status(&routes, "web", "HTTPRoute web generation 2", |v| {
        is(condition(parent(v, 0), "Accepted"), "True", "Accepted", 2)
    })
    .await;

    // Unchanged status is not written again: an unrelated change (an
    // EndpointSlice) reloads, served, and leaves the route untouched.
    let version = web["metadata"]["resourceVersion"].clone();
    let patch = json!({"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]});
    slices
        .patch("api-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    until(http, "web.test", &[], 200, "one").await;
    // Two more reload rounds through the status writer.
    for i in 0..2 {
        let port = if i == 0 { 8081 } else { 8080 };
        let patch = json!({"ports": [{"name": "http", "port": port, "protocol": "TCP"}]});
        slices
            .patch("api-1", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        until(
            http,
            "web.test",
            &[],
            200,
            if port == 8081 { "two" } else { "one" },
        )
        .await;
    }
    let after = serde_json::to_value(routes.get("web").await.unwrap()).unwrap();
    assert_eq!(
        after["metadata"]["resourceVersion"], version,
        "status rewritten without a change"
    );

    // Policy objects: one attached to a route by targetRefs applies to it;
    // one with a bad field is reported and its target fails closed while
    // the rest keeps serving.
    routes
        .create(
            &pp,
            &route(
                "guarded",
                "shop",
                "guarded.test",
                json!([{"backendRefs": [{"name": "web", "port": 80}]}]),
            ),
        )
        .await
        .unwrap();
    until(http, "guarded.test", &[], 200, "one").await;
    let policies: Api<portcullis::provider::kube::policy_crd::Policy> =
        Api::namespaced(admin.clone(), "shop");
    let policy = |name: &str,
                  target: &str,
                  body: Value|
     -> portcullis::provider::kube::policy_crd::Policy {
        let mut spec = json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": target}]});
        if let (Some(spec), Some(body)) = (spec.as_object_mut(), body.as_object()) {
            spec.extend(body.clone());
        }
        object(json!({
            "apiVersion": "portcullis.dev/v1alpha1", "kind": "Policy",
            "metadata": {"name": name, "namespace": "shop"}, "spec": spec,
        }))
    };
    policies
        .create(
            &pp,
            &policy(
                "no-loopback",
                "guarded",
                json!({"ip_filter": {"deny": ["127.0.0.0/8"]}}),
            ),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while get(http, "guarded.test", &[]).await.0 != 403 {
        assert!(Instant::now() < deadline, "the Policy is not enforced");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    until_status(&policies, "no-loopback", "Policy no-loopback", |v| {
        is(
            condition(&v["status"]["conditions"], "Accepted"),
            "True",
            "Accepted",
            1,
        ) && v["status"]["ancestors"][0]["ancestorRef"]["name"] == "guarded"
    })
    .await;
    policies
        .create(
            &pp,
            &policy(
                "typo",
                "web",
                json!({"ip_filter": {"alow": ["10.0.0.0/8"]}}),
            ),
        )
        .await
        .unwrap();
    until(http, "web.test", &[], 503, "policy invalid").await;
    let typo = until_status(&policies, "typo", "Policy typo", |v| {
        is(
            condition(&v["status"]["conditions"], "Accepted"),
            "False",
            "Invalid",
            1,
        )
    })
    .await;
    assert!(
        typo["status"]["conditions"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("alow")),
        "{typo}"
    );
    assert_eq!(get(http, "guarded.test", &[]).await.0, 403);
    assert_eq!(get(http, "missing.test", &[]).await.0, 500);

    eprintln!(
        "gateway api figures: first ready config {first_ready:?} (process start to traffic), HTTPRoute change to traffic {to_traffic:?}"
    );
    drop(gateway);
    drop(upstream);
    drop(netns);
    drop(server);
}
