//! Gateway API translation at scale, offline: 5,000 HTTPRoutes (each with a
//! header-match rule and a 90/10 weighted default rule, its own host) on one
//! Gateway, 10,000 Services with an EndpointSlice of 2 endpoints (20,000
//! endpoints), lowered into the model and its status. This is the work
//! every cluster change costs the provider (besides compiling the model).
//! Run: `cargo bench --bench gateway_translate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::provider::kube::index::Index;
use portcullis::provider::kube::translate::{self, Settings};
use serde_json::json;

const ROUTES: usize = 5_000;

fn index() -> Index {
    let mut index = Index::default();
    let ns = "bench";
    let insert = |index: &mut Index, v: serde_json::Value| {
        index.insert_value(v).expect("valid object");
    };
    insert(
        &mut index,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "portcullis"}, "spec": {"controllerName": "portcullis.dev/gateway-controller"}}),
    );
    insert(
        &mut index,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "edge", "namespace": ns},
               "spec": {"gatewayClassName": "portcullis", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
    );
    for i in 0..ROUTES {
        for svc in [format!("a{i}"), format!("b{i}")] {
            insert(
                &mut index,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": ns},
                       "spec": {"ports": [{"name": "http", "port": 80}]}}),
            );
            let a = (i * 2) % 250 + 1;
            insert(
                &mut index,
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                       "metadata": {"name": format!("{svc}-1"), "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
                       "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
                       "endpoints": [{"addresses": [format!("10.{}.{}.{a}", i / 250 % 250, i % 250)]},
                                     {"addresses": [format!("10.{}.{}.{}", i / 250 % 250, i % 250, a + 1)]}]}),
            );
        }
        insert(
            &mut index,
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                   "metadata": {"name": format!("r{i}"), "namespace": ns, "generation": 1},
                   "spec": {"parentRefs": [{"name": "edge"}], "hostnames": [format!("h{i}.example.com")],
                            "rules": [
                                {"matches": [{"headers": [{"name": "x-canary", "value": "yes"}]}],
                                 "backendRefs": [{"name": format!("b{i}"), "port": 80}]},
                                {"backendRefs": [{"name": format!("a{i}"), "port": 80, "weight": 90},
                                                 {"name": format!("b{i}"), "port": 80, "weight": 10}]}]}}),
        );
    }
    index
}

fn bench(c: &mut Criterion) {
    let index = index();
    let settings = Settings::default();
    let t = translate::translate(&index, &settings).expect("translates");
    assert_eq!(t.loaded.config.routes.len(), 2 * ROUTES);
    assert_eq!(t.gateway.routes.len(), ROUTES);
    let mut group = c.benchmark_group("gateway_translate");
    group.sample_size(10);
    group.bench_function("5000_httproutes_20000_endpoints", |b| {
        b.iter(|| black_box(translate::translate(&index, &settings).expect("translates")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
