//! CPU cost of the WAF engine in process with the CRS at PL1 (blocking
//! settings), per request kind, measured as process CPU time from
//! /proc/self/stat (user + system) over many transactions on one thread.
//! Run: `PORTCULLIS_SHARED=../shared cargo bench --bench waf_engine`.
//! `WAF_BENCH_ONLY=<prefix>` runs only the cases whose name starts with it and
//! `WAF_BENCH_SCALE=<f>` scales the request counts (e.g. 0.01 under callgrind).
//! The gateway-level comparison (with/without WAF, against ModSecurity) is
//! `bench/waf_vs_modsecurity.sh`.

use portcullis::waf::engine::{Connection, Engine, RuleSource};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const SETTINGS: &str = "SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess Off\nSecRequestBodyLimit 13107200\nSecArgumentsLimit 1000\n";

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: utime is field 14, stime 15 (1-based).
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

fn ticks_per_second() -> f64 {
    // USER_HZ is 100 on Linux.
    100.0
}

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

fn h(list: &[(&str, &str)]) -> Headers {
    list.iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn run(engine: &Engine, method: &str, target: &str, headers: &Headers, body: &[u8]) -> usize {
    let mut tx = engine.transaction(Connection::default());
    let mut stop = tx.request_headers(
        method.as_bytes(),
        target.as_bytes(),
        b"HTTP/1.1",
        headers.clone(),
    );
    if stop.is_none() {
        stop = tx.request_body(body);
    }
    if stop.is_none() {
        tx.response_headers(
            200,
            b"HTTP/1.1",
            vec![(b"Content-Type".to_vec(), b"text/plain".to_vec())],
        );
        tx.response_body(b"hello");
    }
    tx.finish().len()
}

/// Resident set size of this process in KiB (`VmRSS`), 0 if unreadable.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn measure(
    name: &str,
    engine: &Engine,
    method: &str,
    target: &str,
    headers: &Headers,
    body: &[u8],
    n: u32,
) {
    if std::env::var("WAF_BENCH_ONLY").is_ok_and(|only| !name.starts_with(only.as_str())) {
        return;
    }
    let scale: f64 = std::env::var("WAF_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = ((f64::from(n) * scale).round() as u32).max(1);
    let start = cpu_ticks();
    let mut matched = 0;
    for _ in 0..n {
        matched = black_box(run(engine, method, target, headers, body));
    }
    let ticks = cpu_ticks() - start;
    let micros = ticks as f64 / ticks_per_second() * 1e6 / f64::from(n);
    println!(
        "{name:<28} {n:>6} requests  {micros:>10.1} µs CPU/request  (rules matched: {matched})"
    );
}

fn main() {
    let shared = std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let crs = shared.join("waf/crs-v4.28.0");
    let rss_before = rss_kib();
    let start = cpu_ticks();
    let engine = Engine::load(&[
        RuleSource::Text {
            name: "settings".into(),
            text: SETTINGS.into(),
        },
        RuleSource::Files(crs.join("crs-setup.conf.example")),
        RuleSource::Files(crs.join("rules/*.conf")),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let load = (cpu_ticks() - start) as f64 / ticks_per_second();
    let rss = rss_kib().saturating_sub(rss_before);
    println!(
        "CRS v4.28.0 at PL1: {} rules, loaded in {load:.2} s CPU, +{:.1} MiB RSS",
        engine.rules.rule_count(),
        rss as f64 / 1024.0
    );

    let browser = h(&[
        ("Host", "shop.example.com"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Cookie", "session=3f9a1c0e7b5d4a2f; theme=dark"),
        ("Referer", "https://shop.example.com/catalog"),
    ]);
    measure(
        "GET /?q=hello",
        &engine,
        "GET",
        "/?q=hello",
        &browser,
        b"",
        2000,
    );
    measure(
        "GET typical page",
        &engine,
        "GET",
        "/catalog/item/42?color=blue&size=m",
        &browser,
        b"",
        2000,
    );
    measure(
        "GET SQLi",
        &engine,
        "GET",
        "/search?q=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20password%20FROM%20users--",
        &browser,
        b"",
        1000,
    );
    let mut form = browser.clone();
    form.push((
        b"Content-Type".to_vec(),
        b"application/x-www-form-urlencoded".to_vec(),
    ));
    measure(
        "POST form",
        &engine,
        "POST",
        "/login",
        &form,
        b"user=alice&password=correct+horse&remember=1",
        2000,
    );
    let mut json = browser.clone();
    json.push((b"Content-Type".to_vec(), b"application/json".to_vec()));
    let mut big = String::from("{\"items\":[");
    while big.len() < 1 << 20 {
        big.push_str("{\"id\":12345,\"name\":\"widget\",\"tags\":[\"a\",\"b\"]},");
    }
    big.push_str("{}]}");
    measure(
        "POST 1 MiB JSON",
        &engine,
        "POST",
        "/api/items",
        &json,
        big.as_bytes(),
        5,
    );
}
