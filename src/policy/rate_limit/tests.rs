//! Policy-level tests with an injected clock: keys, scopes, several limits,
//! missing keys, dry-run, delay and reuse across reloads.

use super::*;
use crate::config::spec_rate_limit::{KeyPartSpec, LimitSpec, MissingKey};
use crate::listener::client_ip::ClientIp;
use clock::ManualClock;

const MS: u64 = 1_000_000;

fn spec(limits: &[(u64, u64, u64)], key: Vec<KeyPartSpec>) -> RateLimitSpec {
    let yaml = serde_json::json!({ "limits": [] });
    let mut spec: RateLimitSpec = serde_json::from_value(yaml).unwrap();
    spec.limits = limits
        .iter()
        .map(|&(rate, per_s, burst)| LimitSpec {
            rate,
            per: Duration::from_secs(per_s),
            burst: Some(burst),
        })
        .collect();
    spec.key = key;
    spec
}

fn limiter(spec: &RateLimitSpec) -> (RateLimit, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(10 * NS));
    (RateLimit::with_clock(spec, clock.clone()).unwrap(), clock)
}

struct Req {
    ip: &'static str,
    host: &'static str,
    route: &'static str,
    headers: http::HeaderMap,
    query: Option<&'static str>,
}

fn req(ip: &'static str) -> Req {
    Req {
        ip,
        host: "a.example",
        route: "r1",
        headers: http::HeaderMap::new(),
        query: None,
    }
}

fn check(limit: &RateLimit, r: &Req) -> Outcome {
    let input = PolicyInput {
        client_ip: ClientIp::from_trusted_source(r.ip.parse().unwrap()),
        method: &http::Method::GET,
        host: r.host,
        path: "/",
        query: r.query,
        target: "/",
        version: http::Version::HTTP_11,
        headers: &r.headers,
        route: r.route,
        client_cert: None,
        principal: None,
    };
    limit.check(&input)
}

fn allowed(limit: &RateLimit, r: &Req, n: usize) -> usize {
    (0..n).filter(|_| check(limit, r) == Outcome::Allow).count()
}

#[test]
fn clients_are_isolated() {
    let (limit, _) = limiter(&spec(&[(10, 1, 5)], vec![KeyPartSpec::ClientIp]));
    assert_eq!(allowed(&limit, &req("192.0.2.1"), 100), 5);
    assert_eq!(allowed(&limit, &req("192.0.2.2"), 100), 5);
    // Same /64: one client.
    assert_eq!(allowed(&limit, &req("2001:db8::1"), 3), 3);
    assert_eq!(allowed(&limit, &req("2001:db8::ffff:2"), 10), 2);
}

#[test]
fn every_limit_must_pass_and_rejections_are_refunded() {
    // 10/s burst 10, and 15 per minute burst 15.
    let (limit, clock) = limiter(&spec(&[(10, 1, 10), (15, 60, 15)], vec![]));
    let r = req("192.0.2.1");
    assert_eq!(allowed(&limit, &r, 50), 10);
    clock.advance(NS);
    // The per-second limit refilled, the per-minute one has 5 left; the
    // rejected ones above were not charged to the per-minute limit.
    assert_eq!(allowed(&limit, &r, 50), 5);
    assert!(matches!(
        check(&limit, &r),
        Outcome::Reject { limit: 1, .. }
    ));
}

#[test]
fn header_key_and_missing_key_rules() {
    let mut s = spec(&[(1, 1, 2)], vec![KeyPartSpec::Header("x-api-key".into())]);
    let mut with_key = req("192.0.2.1");
    with_key.headers.insert("x-api-key", "k1".parse().unwrap());
    let mut other_key = req("192.0.2.1");
    other_key.headers.insert("x-api-key", "k2".parse().unwrap());
    let without = req("192.0.2.9");

    // Default: a missing header counts as the client IP.
    let (limit, _) = limiter(&s);
    assert_eq!(allowed(&limit, &with_key, 10), 2);
    assert_eq!(allowed(&limit, &other_key, 10), 2);
    assert_eq!(allowed(&limit, &without, 10), 2);

    s.missing_key = MissingKey::Skip;
    let (limit, _) = limiter(&s);
    assert_eq!(allowed(&limit, &without, 10), 10);

    s.missing_key = MissingKey::Reject;
    let (limit, _) = limiter(&s);
    assert_eq!(check(&limit, &without), Outcome::KeyMissing);
    let name: Arc<str> = "p".into();
    let rejection = limit.rejection(&name, Outcome::KeyMissing).unwrap();
    assert_eq!(rejection.reason(), "rate_limit_key_missing");
}

#[test]
fn query_key_and_combination() {
    let s = spec(
        &[(1, 1, 1)],
        vec![KeyPartSpec::ClientIp, KeyPartSpec::Query("token".into())],
    );
    let (limit, _) = limiter(&s);
    let mut a = req("192.0.2.1");
    a.query = Some("token=a");
    let mut b = req("192.0.2.1");
    b.query = Some("x=1&token=b");
    let mut c = req("192.0.2.2");
    c.query = Some("token=a");
    for r in [&a, &b, &c] {
        assert_eq!(allowed(&limit, r, 5), 1);
    }
}

#[test]
fn per_host_ceiling_across_clients() {
    let (limit, _) = limiter(&spec(&[(100, 1, 3)], vec![KeyPartSpec::Host]));
    let mut total = 0;
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] {
        total += allowed(&limit, &req(ip), 5);
    }
    assert_eq!(total, 3);
    let mut other = req("192.0.2.1");
    other.host = "b.example";
    assert_eq!(allowed(&limit, &other, 5), 3);
}

#[test]
fn route_scope_separates_routes_shared_scope_does_not() {
    let mut s = spec(&[(1, 1, 2)], vec![KeyPartSpec::ClientIp]);
    let r1 = req("192.0.2.1");
    let mut r2 = req("192.0.2.1");
    r2.route = "r2";
    let (shared, _) = limiter(&s);
    assert_eq!(allowed(&shared, &r1, 5) + allowed(&shared, &r2, 5), 2);
    s.scope = Scope::Route;
    let (per_route, _) = limiter(&s);
    assert_eq!(allowed(&per_route, &r1, 5) + allowed(&per_route, &r2, 5), 4);
}

#[test]
fn dry_run_never_rejects_but_reports() {
    let mut s = spec(&[(1, 1, 1)], vec![KeyPartSpec::ClientIp]);
    s.dry_run = true;
    let (limit, _) = limiter(&s);
    let r = req("192.0.2.1");
    assert_eq!(check(&limit, &r), Outcome::Allow);
    assert_eq!(check(&limit, &r), Outcome::DryRunReject);
    assert_eq!(limit.counters.dry_run_rejected.load(Ordering::Relaxed), 1);
}

#[test]
fn delay_mode_delays_then_rejects_past_max_delay() {
    let mut s = spec(&[(10, 1, 1)], vec![KeyPartSpec::ClientIp]);
    s.action = RateLimitAction::Delay;
    s.max_delay = Duration::from_millis(250);
    let (limit, _) = limiter(&s);
    let r = req("192.0.2.1");
    assert_eq!(check(&limit, &r), Outcome::Allow);
    assert_eq!(
        check(&limit, &r),
        Outcome::Delay(Duration::from_millis(100))
    );
    assert_eq!(
        check(&limit, &r),
        Outcome::Delay(Duration::from_millis(200))
    );
    let Outcome::Reject { retry_after_ns, .. } = check(&limit, &r) else {
        panic!("expected a rejection");
    };
    assert_eq!(retry_after_ns, 50 * MS);
}

#[test]
fn rejection_carries_headers() {
    let (limit, _) = limiter(&spec(&[(60, 60, 1)], vec![KeyPartSpec::ClientIp]));
    let r = req("192.0.2.1");
    check(&limit, &r);
    let outcome = check(&limit, &r);
    let name: Arc<str> = "api".into();
    let response = limit
        .rejection(&name, outcome)
        .unwrap()
        .into_response(&http::HeaderValue::from_static("id"));
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["ratelimit-policy"], "\"api\";q=60;w=60");
    assert_eq!(response.headers()["ratelimit"], "\"api\";r=0;t=1");
}

#[test]
fn unchanged_spec_reuses_state_on_reload() {
    let s = spec(&[(1, 60, 1)], vec![KeyPartSpec::ClientIp]);
    let first = reuse_or_compile(None, "p", &s, &SharedState::default()).unwrap();
    let kind = crate::policy::PolicyKind::RateLimit(Arc::clone(&first));
    let again = reuse_or_compile(Some(&kind), "p", &s, &SharedState::default()).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let mut changed = s.clone();
    changed.limits[0].rate = 2;
    let fresh = reuse_or_compile(Some(&kind), "p", &changed, &SharedState::default()).unwrap();
    assert!(!Arc::ptr_eq(&first, &fresh));
}

#[test]
fn million_keys_stay_within_max_keys() {
    let mut s = spec(&[(1, 60, 1)], vec![KeyPartSpec::Header("k".into())]);
    s.max_keys = 50_000;
    let (limit, _) = limiter(&s);
    let mut r = req("192.0.2.1");
    for i in 0..1_000_000u32 {
        r.headers.insert("k", http::HeaderValue::from(i));
        check(&limit, &r);
    }
    let (keys, bytes_per_key) = limit.tracked()[0];
    assert!(keys <= 50_000, "{keys}");
    eprintln!("keys {keys}, bytes per key {bytes_per_key:.1}");
}

#[test]
fn tier_chosen_by_header() {
    let mut s = spec(&[(1, 60, 1)], vec![KeyPartSpec::ClientIp]);
    s.tiers = Some(
        serde_json::from_value(serde_json::json!({
            "by": { "header": "x-plan" },
            "levels": [{ "value": "gold", "limits": [{ "rate": 10, "per": "1m", "burst": 10 }] }]
        }))
        .unwrap(),
    );
    let (limit, _) = limiter(&s);
    let mut gold = req("192.0.2.1");
    gold.headers.insert("x-plan", "gold".parse().unwrap());
    let mut unknown = req("192.0.2.2");
    unknown
        .headers
        .insert("x-plan", "platinum".parse().unwrap());
    assert_eq!(allowed(&limit, &gold, 20), 10);
    assert_eq!(allowed(&limit, &unknown, 20), 1);
    assert_eq!(allowed(&limit, &req("192.0.2.3"), 20), 1);
}

#[test]
fn schedule_switches_with_the_clock() {
    let mut s = spec(&[(1, 60, 1)], vec![KeyPartSpec::ClientIp]);
    // Business hours in UTC+02:00 get a larger allowance; the window wraps
    // nothing here, the night one wraps past midnight.
    s.schedule = Some(serde_json::from_value(serde_json::json!({
        "utc_offset": "+02:00",
        "windows": [
            { "from": "09:00", "to": "17:00", "limits": [{ "rate": 5, "per": "1m", "burst": 5 }] },
            { "from": "22:00", "to": "06:00", "limits": [{ "rate": 2, "per": "1m", "burst": 2 }] }
        ]
    })).unwrap());
    let (limit, clock) = limiter(&s);
    let day = 20_000 * 86_400; // a midnight UTC
    let at = |h: u64| day + h * 3600;
    clock.set_wall(at(8)); // 10:00 local: business hours
    assert_eq!(allowed(&limit, &req("192.0.2.1"), 10), 5);
    clock.set_wall(at(16)); // 18:00 local: default
    assert_eq!(allowed(&limit, &req("192.0.2.2"), 10), 1);
    clock.set_wall(at(23)); // 01:00 local: night window
    assert_eq!(allowed(&limit, &req("192.0.2.3"), 10), 2);
}
