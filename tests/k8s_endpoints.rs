//! The provider seam's endpoint sets: endpoint churn on reload keeps the
//! pools of the endpoints that stay and drops the ones that leave; DNS
//! names are endpoints (each address of the answer one endpoint).

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Gateway, WAIT, get};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// An upstream that answers its name and counts the connections it accepted.
struct Counting {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn counting(name: &'static str) -> Counting {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let r = Arc::clone(&r);
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    r.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(name)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Counting {
        addr,
        connections,
        requests,
    }
}

fn config(endpoints: &[String]) -> String {
    let mut yaml = String::from(
        "admin: {address: 127.0.0.1:0}\nlisteners:\n  - name: web\n    address: 127.0.0.1:0\nbackends:\n  - name: app\n    dns_refresh: 1s\n    endpoints:\n",
    );
    for e in endpoints {
        yaml.push_str(&format!("      - address: {e}\n"));
    }
    yaml.push_str("routes:\n  - name: all\n    match: {path: {prefix: /}}\n    backend: app\n");
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_keeps_pools_of_staying_endpoints_and_drops_leaving_ones() {
    let (a, b, c) = (
        counting("A").await,
        counting("B").await,
        counting("C").await,
    );
    let mut gw = Gateway::start(&config(&[a.addr.to_string(), b.addr.to_string()]));
    let web = gw.addr("web");
    for _ in 0..10 {
        assert_eq!(get(web, "/").await.status, 200);
    }
    assert!(a.requests.load(Ordering::SeqCst) > 0 && b.requests.load(Ordering::SeqCst) > 0);
    let a_connections = a.connections.load(Ordering::SeqCst);
    let b_requests = b.requests.load(Ordering::SeqCst);

    let line = tokio::task::block_in_place(|| {
        gw.reload(&config(&[a.addr.to_string(), c.addr.to_string()]))
    });
    assert!(line.contains("config reloaded"), "{line}");
    for _ in 0..10 {
        assert_eq!(get(web, "/").await.status, 200);
    }
    // B left: no new requests. C joined. A kept its pooled connection.
    assert_eq!(b.requests.load(Ordering::SeqCst), b_requests);
    assert!(c.requests.load(Ordering::SeqCst) >= 4);
    assert_eq!(
        a.connections.load(Ordering::SeqCst),
        a_connections,
        "A's idle connection should survive the endpoint change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_names_are_endpoints() {
    let a = counting("A").await;
    // `localhost` resolves through /etc/hosts to the upstream's loopback.
    let gw = Gateway::start(&config(&[format!("localhost:{}", a.addr.port())]));
    let web = gw.addr("web");
    // Resolution is asynchronous: poll until the first answer is in.
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = get(web, "/").await;
        if reply.status == 200 {
            assert_eq!(reply.body, "A");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "name never resolved: {}",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.requests.load(Ordering::SeqCst) >= 1);
}
