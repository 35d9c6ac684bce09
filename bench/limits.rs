//! Criterion benches for the hot paths of issue 4: one rate-limit decision
//! with 1,000,000 live keys, and one ip_filter lookup in 100,000 CIDRs.
//! Run: `cargo bench --bench limits`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::config::spec::IpFilterSpec;
use portcullis::config::spec_rate_limit::RateLimitSpec;
use portcullis::listener::client_ip::ClientIp;
use portcullis::policy::PolicyInput;
use portcullis::policy::ip_filter::IpFilter;
use portcullis::policy::rate_limit::RateLimit;
use portcullis::policy::rate_limit::clock::MonotonicClock;

const KEYS: u32 = 1_000_000;

fn ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
}

fn rate_limit(c: &mut Criterion) {
    let spec: RateLimitSpec = serde_json::from_value(serde_json::json!({
        // Never triggers at bench rates, so every decision updates state.
        "limits": [{ "rate": 1_000_000, "per": "1s" }],
        "max_keys": 2_000_000,
    }))
    .expect("spec");
    let limit = RateLimit::with_clock(&spec, Arc::new(MonotonicClock::default())).expect("compile");
    let headers = http::HeaderMap::new();
    let input = |i: u32| PolicyInput {
        client_ip: ClientIp::from_trusted_source(ip(i)),
        method: &http::Method::GET,
        host: "example.com",
        path: "/",
        query: None,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &headers,
        route: "r",
        client_cert: None,
        principal: None,
    };
    for i in 0..KEYS {
        limit.check(&input(i));
    }
    eprintln!("live keys: {:?}", limit.tracked());
    let mut i = 0u32;
    c.bench_function("rate_limit decision, 1M live keys", |b| {
        b.iter(|| {
            // A multiplicative walk over the live keys defeats the caches.
            i = i.wrapping_add(2_654_435_761) % KEYS;
            black_box(limit.check(&input(i)))
        })
    });
}

fn ip_filter(c: &mut Criterion) {
    let mut deny = Vec::with_capacity(100_000);
    for n in 0..100_000u32 {
        deny.push(format!("10.{}.{}.0/24", (n >> 8) & 0xff, n & 0xff));
    }
    let filter = IpFilter::compile(&IpFilterSpec {
        allow: vec!["10.0.0.0/8".into()],
        deny,
        default: None,
    })
    .expect("compile");
    let mut i = 0u32;
    c.bench_function("ip_filter lookup, 100k CIDRs", |b| {
        b.iter(|| {
            i = i.wrapping_add(2_654_435_761);
            black_box(filter.check(ClientIp::from_trusted_source(ip(i & 0x00ff_ffff))))
        })
    });
}

criterion_group!(benches, rate_limit, ip_filter);
criterion_main!(benches);
