//! The Kubernetes provider against a real kube-apiserver: Ingresses served
//! to upstreams in a network namespace, EndpointSlice changes served within
//! a second, bad objects skipped while the rest serves, Ingress status
//! written, the RBAC in deploy/manifests sufficient (the gateway runs as
//! `test-user` bound to exactly that ClusterRole) and minimal, the
//! manifests accepted by a server-side dry run, and the last good config
//! serving after the API server is gone. One API server for the binary.

mod k8s;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// The documents of a manifest file, as JSON.
fn manifests(file: &str) -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/manifests")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("\n---")
        .map(|doc| portcullis::config::yaml::parse(doc).unwrap().value)
        .filter(|v| v.get("kind").is_some())
        .collect()
}

async fn get(addr: std::net::SocketAddr, host: &str) -> (u16, String) {
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
    let req = hyper::Request::get("/")
        .header("host", host)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(2), sender.send_request(req)).await {
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        _ => (0, String::new()),
    }
}

/// Polls until `host` answers `status` with `body`; returns how long it took.
async fn until(addr: std::net::SocketAddr, host: &str, status: u16, body: &str) -> Duration {
    let started = Instant::now();
    loop {
        let got = get(addr, host).await;
        if got.0 == status && got.1.trim() == body {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WAIT,
            "{host}: wanted {status} {body:?}, still {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn slice(ns_ip: &str, port: i32) -> EndpointSlice {
    object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ns_ip], "conditions": {"ready": true}}],
    }))
}

fn ingress(name: &str, host: &str, annotations: serde_json::Value) -> Ingress {
    object(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {"ingressClassName": "portcullis", "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "ImplementationSpecific",
             "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]},
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_controller_against_a_real_api_server() {
    let Some(assets) = k8s::assets() else {
        eprintln!(
            "skipped: no kube-apiserver assets (set PORTCULLIS_K8S_ASSETS or put shared/k8s beside the repository)"
        );
        return;
    };
    let server = tokio::task::block_in_place(|| k8s::ApiServer::start(assets));
    let admin = server.client(&server.kubeconfig).await;
    let pp = PostParams::default();

    // The manifests pass a server-side dry run (namespaced ones need their namespace).
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(&pp, &object(manifests("namespace.yaml")[0].clone()))
        .await
        .unwrap();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    for file in ["rbac.yaml", "ingressclass.yaml", "deployment.yaml"] {
        for doc in manifests(file) {
            let obj: DynamicObject = object(doc.clone());
            let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
            let (resource, caps) = discovery::pinned_kind(&admin, &gvk).await.unwrap();
            let api: Api<DynamicObject> = if caps.scope == discovery::Scope::Namespaced {
                Api::namespaced_with(
                    admin.clone(),
                    obj.metadata.namespace.as_deref().unwrap(),
                    &resource,
                )
            } else {
                Api::all_with(admin.clone(), &resource)
            };
            api.create(&dry, &obj)
                .await
                .unwrap_or_else(|e| panic!("{file} {}: {e}", gvk.kind));
        }
    }

    // The gateway runs as test-user, bound to exactly the shipped ClusterRole.
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
    // Minimal: reads and status only.
    assert!(
        Api::<k8s_openapi::api::core::v1::Pod>::all(user.clone())
            .list(&Default::default())
            .await
            .is_err()
    );
    assert!(
        Api::<Service>::namespaced(user.clone(), "portcullis")
            .create(
                &pp,
                &object(json!({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 1}]}}))
            )
            .await
            .is_err()
    );

    // Objects: a class, a Service, its EndpointSlice into the netns, an Ingress.
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

    namespaces
        .create(&pp, &object(json!({"metadata": {"name": "shop"}})))
        .await
        .unwrap();
    let class: IngressClass = object(manifests("ingressclass.yaml")[0].clone());
    Api::<IngressClass>::all(admin.clone())
        .create(&pp, &class)
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(admin.clone(), "shop");
    services.create(&pp, &object(json!({"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))).await.unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(admin.clone(), "shop");
    slices
        .create(&pp, &slice(&netns.ns_ip, 8080))
        .await
        .unwrap();
    let ingresses: Api<Ingress> = Api::namespaced(admin.clone(), "shop");
    ingresses
        .create(&pp, &ingress("web", "web.test", json!({})))
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
    until(http, "web.test", 200, "one").await;
    let first_ready = started.elapsed();

    // Status: the published address.
    let deadline = Instant::now() + WAIT;
    loop {
        let status = ingresses.get_status("web").await.unwrap().status;
        let ip = status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|l| l.first().and_then(|e| e.ip.clone()));
        if ip.as_deref() == Some("203.0.113.7") {
            break;
        }
        assert!(Instant::now() < deadline, "no status written: {ip:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An EndpointSlice change is served within a second.
    let patch = json!({"ports": [{"name": "http", "port": 8081, "protocol": "TCP"}]});
    let changed = Instant::now();
    slices
        .patch("web-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    until(http, "web.test", 200, "two").await;
    let to_traffic = changed.elapsed();
    assert!(
        to_traffic < Duration::from_secs(1),
        "EndpointSlice change took {to_traffic:?}"
    );

    // Bad objects are skipped and fail closed; the rest keeps serving.
    ingresses
        .create(
            &pp,
            &ingress(
                "bad-regex",
                "regex.test",
                json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            ),
        )
        .await
        .unwrap();
    let mut bad: Ingress = ingress(
        "bad-regex2",
        "regex2.test",
        json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
    );
    if let Some(paths) = bad
        .spec
        .as_mut()
        .and_then(|s| s.rules.as_mut())
        .and_then(|r| r[0].http.as_mut())
    {
        paths.paths[0].path = Some("/(unclosed".into());
    }
    ingresses.create(&pp, &bad).await.unwrap();
    ingresses
        .create(
            &pp,
            &ingress(
                "snippet",
                "snippet.test",
                json!({"nginx.ingress.kubernetes.io/server-snippet": "return 200;"}),
            ),
        )
        .await
        .unwrap();
    until(http, "regex.test", 200, "two").await;
    until(http, "regex2.test", 503, "backend unavailable").await;
    until(http, "snippet.test", 503, "backend unavailable").await;
    until(http, "web.test", 200, "two").await;
    // The refused snippet is explained in an Event on its Ingress.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), "shop");
    let deadline = Instant::now() + WAIT;
    loop {
        let list = events.list(&Default::default()).await.unwrap();
        let found = list.items.iter().any(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("snippet")
                && e.reason.as_deref() == Some("Refused")
                && e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("server-snippet"))
        });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no Event for the snippet Ingress: {:?}",
            list.items
                .iter()
                .map(|e| (&e.reason, &e.note))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A missing Service fails closed for its paths only.
    let mut orphan = ingress("orphan", "orphan.test", json!({}));
    if let Some(paths) = orphan
        .spec
        .as_mut()
        .and_then(|s| s.rules.as_mut())
        .and_then(|r| r[0].http.as_mut())
    {
        paths.paths[0].backend.service.as_mut().unwrap().name = "nowhere".into();
    }
    ingresses.create(&pp, &orphan).await.unwrap();
    until(http, "orphan.test", 503, "backend unavailable").await;

    // The API server goes away: the last good configuration keeps serving.
    // stop-apiserver.sh returns once both processes are gone.
    tokio::task::block_in_place(|| server.stop());
    assert_eq!(get(http, "web.test").await, (200, "two".to_owned()));
    eprintln!(
        "k8s figures: first ready config {first_ready:?} (process start to traffic), EndpointSlice change to traffic {to_traffic:?}"
    );
    drop(gateway);
    drop(upstream);
    drop(netns);
}
