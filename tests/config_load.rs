//! Integration tests for configuration loading: positions, validation, hostile input.

use std::time::Duration;

use portcullis::config::load::{load_file, load_str};
use portcullis::config::spec::{FilterAction, HashKeySpec, LoadBalancingSpec};

/// Loads `text`, expecting failure; returns each error's Display line.
fn errors(text: &str) -> Vec<String> {
    match load_str(text, "gateway.yaml") {
        Ok(cfg) => panic!("expected errors, got {cfg:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const FULL: &str = r#"
admin:
  address: 127.0.0.1:0
server:
  trusted_proxies: [10.0.0.0/8, "2001:db8::/32"]
  shutdown_grace: 5s
  access_log: false
listeners:
  - name: public
    address: 0.0.0.0:0
    proxy_protocol: optional
    policies: [office-only]
    http:
      max_head_bytes: 16384
      head_timeout: 250ms
      encoded_slash: decode
routes:
  - name: api
    listeners: [public]
    match:
      hosts: [api.example.com, "*.example.org"]
      path: { prefix: /api }
      methods: [GET, POST]
      headers:
        - { name: x-env, exact: prod }
        - { name: X-Trace, present: true }
      query:
        - { name: debug, regex: "^(1|true)$" }
    policies: [office-only]
    backend: api-pool
  - name: teapot
    match:
      path: { exact: /teapot }
    direct_response:
      status: 418
      headers: { content-type: text/plain }
      body: "short and stout\n"
backends:
  - name: api-pool
    endpoints:
      - address: 10.1.0.1:8080
        weight: 3
      - address: "[2001:db8::1]:8080"
    load_balancing:
      consistent_hash: { header: x-user }
    timeouts: { connect: 1s, request: 30s, idle: 1m }
    health: { consecutive_failures: 3, base_ejection: 5s, max_ejection: 1m }
    max_idle_per_endpoint: 16
policies:
  - name: office-only
    ip_filter:
      allow: [192.168.0.0/16, 10.0.0.1]
      deny: [192.168.66.0/24]
      default: deny
"#;

#[test]
fn full_config_loads() {
    let cfg = load_str(FULL, "gateway.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.admin.address, "127.0.0.1:0");
    assert_eq!(cfg.server.trusted_proxies.len(), 2);
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(5));
    assert!(!cfg.server.access_log);
    assert_eq!(cfg.listeners[0].http.max_head_bytes, 16384);
    assert_eq!(
        cfg.listeners[0].http.head_timeout,
        Duration::from_millis(250)
    );
    assert_eq!(cfg.listeners[0].http.max_headers, 100, "default kept");
    assert_eq!(cfg.routes.len(), 2);
    assert_eq!(cfg.routes[0].matches.hosts[1], "*.example.org");
    assert_eq!(cfg.routes[0].matches.headers[1].present, Some(true));
    assert_eq!(cfg.routes[0].backend.as_deref(), Some("api-pool"));
    let direct = cfg.routes[1]
        .direct_response
        .as_ref()
        .expect("direct response");
    assert_eq!(direct.status, 418);
    assert_eq!(direct.body, "short and stout\n");
    let b = &cfg.backends[0];
    assert_eq!(b.endpoints[0].weight, 3);
    assert_eq!(b.endpoints[1].weight, 1, "default weight");
    assert_eq!(
        b.load_balancing,
        LoadBalancingSpec::ConsistentHash(HashKeySpec::Header("x-user".into()))
    );
    assert_eq!(b.timeouts.idle, Duration::from_secs(60));
    assert_eq!(b.health.consecutive_failures, 3);
    let f = cfg.policies[0].ip_filter.as_ref().expect("ip_filter");
    assert_eq!(f.default, Some(FilterAction::Deny));
    assert_eq!(f.allow, ["192.168.0.0/16", "10.0.0.1"]);
}

#[test]
fn unknown_backend_has_value_position() {
    let text = "\
listeners:
  - name: public
    address: 127.0.0.1:0
backends:
  - name: web
    endpoints:
      - address: 10.0.0.1:80
routes:
  - name: a
    backend: web
  - name: b
    backend: web
  - name: c
    backend: api
";
    assert_eq!(
        errors(text),
        ["gateway.yaml:14:14 routes[2].backend: unknown backend \"api\""]
    );
}

#[test]
fn unknown_field_points_at_key() {
    let text = "\
routes:
  - name: a
    match:
      path: { prefix: /x }
      hosst: [a.example.com]
";
    let errs = errors(text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "gateway.yaml:5:7 routes[0].match.hosst: unknown field `hosst`, expected one of"
        ),
        "{errs:?}"
    );
}

#[test]
fn type_error_points_at_value() {
    let text = "\
backends:
  - name: web
    endpoints:
      - address: 10.0.0.1:80
        weight: abc
";
    let errs = errors(text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "gateway.yaml:5:17 backends[0].endpoints[0].weight: invalid type: string \"abc\""
        ),
        "{errs:?}"
    );
}

#[test]
fn quoted_scalars_stay_strings() {
    // `"5"` is a string, so the u32 field rejects it; plain `5` would be fine.
    let text =
        "backends:\n  - name: w\n    endpoints: [{address: \"10.0.0.1:80\", weight: \"5\"}]\n";
    let errs = errors(text);
    assert!(
        errs[0].contains("weight: invalid type: string \"5\""),
        "{errs:?}"
    );
}

#[test]
fn duplicate_key_rejected() {
    let text = "admin:\n  address: 127.0.0.1:1\n  address: 127.0.0.1:2\n";
    assert_eq!(
        errors(text),
        ["gateway.yaml:3:3 admin.address: duplicate key \"address\" (first at line 2, column 3)"]
    );
}

#[test]
fn duplicate_names_rejected() {
    let text = "\
routes:
  - name: x
    direct_response: {status: 204}
  - name: x
    direct_response: {status: 204}
policies:
  - name: p
    ip_filter: {default: allow}
  - name: p
    ip_filter: {default: deny}
";
    assert_eq!(
        errors(text),
        [
            "gateway.yaml:4:11 routes[1].name: duplicate route name \"x\" (first at routes[0])",
            "gateway.yaml:9:11 policies[1].name: duplicate policy name \"p\" (first at policies[0])",
        ]
    );
}

#[test]
fn invalid_cidr_points_at_list_element() {
    let text = "\
policies:
  - name: p
    ip_filter:
      allow:
        - 10.0.0.0/8
        - 10.0.0.1/8
";
    assert_eq!(
        errors(text),
        [
            "gateway.yaml:6:11 policies[0].ip_filter.allow[1]: \"10.0.0.1/8\" has host bits set (did you mean 10.0.0.0/8?)"
        ]
    );
}

#[test]
fn invalid_regex_reported() {
    let text = "\
routes:
  - name: r
    match:
      path: {regex: \"^/(a\"}
    direct_response: {status: 200}
";
    let errs = errors(text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .starts_with("gateway.yaml:4:21 routes[0].match.path.regex: invalid regex \"^/(a\": "),
        "{errs:?}"
    );
}

#[test]
fn all_errors_reported_in_document_order() {
    // Backends come before routes in the file but after them in the model.
    let text = "\
backends:
  - name: api
    endpoints:
      - address: backend_internal:80
        weight: 0
listeners:
  - name: l
    address: 127.0.0.1:8080
  - name: l2
    address: 127.0.0.1:8080
routes:
  - name: bad name
    listeners: [nope]
    match:
      hosts: [\"*\"]
      methods: [get]
      headers: [{name: x, present: false}]
    backend: api
    direct_response: {status: 101}
policies:
  - name: p
";
    assert_eq!(
        errors(text),
        [
            "gateway.yaml:4:18 backends[0].endpoints[0].address: invalid address \"backend_internal:80\": must be IP:port or name:port, e.g. 10.0.0.5:8080 or api.internal:8080",
            "gateway.yaml:5:17 backends[0].endpoints[0].weight: must be between 1 and 10000",
            "gateway.yaml:10:14 listeners[1].address: duplicate listener address \"127.0.0.1:8080\" (first at listeners[0])",
            "gateway.yaml:12:5 routes[0]: route has both backend and direct_response; set only one",
            "gateway.yaml:12:11 routes[0].name: invalid route name \"bad name\": use only letters, digits, '.', '_' and '-'",
            "gateway.yaml:13:17 routes[0].listeners[0]: unknown listener \"nope\"",
            "gateway.yaml:15:15 routes[0].match.hosts[0]: host \"*\" is not allowed; omit hosts to match any host",
            "gateway.yaml:16:17 routes[0].match.methods[0]: method \"get\" must be upper-case (GET)",
            "gateway.yaml:17:36 routes[0].match.headers[0].present: present: false is not supported; use present: true or omit",
            "gateway.yaml:21:5 policies[0]: policy needs exactly one kind (ip_filter, rate_limit, inflight, jwt, authz, api_key, basic, external, oidc, introspection, mtls, threat_feed, waf)",
        ]
    );
}

#[test]
fn billion_laughs_is_bounded() {
    let mut text = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev}]\n"
        ));
    }
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("alias bomb"), "{errs:?}");
}

#[test]
fn long_string_alias_bomb_is_bounded() {
    let big = "x".repeat(1 << 20);
    let mut text = format!("a: &s \"{big}\"\nb: [");
    for _ in 0..100 {
        text.push_str("*s,");
    }
    text.push_str("]\n");
    let errs = errors(&text);
    assert!(errs[0].contains("alias bomb"), "{errs:?}");
}

#[test]
fn small_aliases_work() {
    let text = "\
x-addr: &ep {address: 10.0.0.1:80}
";
    // Unknown top-level key is still an error; aliases themselves are fine.
    assert!(errors(text)[0].contains("unknown field `x-addr`"));
    let text = "\
backends:
  - name: a
    endpoints: &eps [{address: 10.0.0.1:80}]
  - name: b
    endpoints: *eps
";
    let cfg = load_str(text, "g.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.backends[1].endpoints[0].address, "10.0.0.1:80");
}

#[test]
fn deep_nesting_is_bounded() {
    for text in [
        "[".repeat(100_000),
        "{a: ".repeat(100_000),
        (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect(),
    ] {
        let errs = errors(&text);
        assert_eq!(errs.len(), 1);
        // Either our depth bound or the YAML scanner's own recursion limit.
        assert!(
            errs[0].contains("nesting deeper than 128") || errs[0].contains("recursion limit"),
            "{errs:?}"
        );
    }
    // Depth through aliases counts too.
    let nest = |inner: &str| format!("{}{inner}{}", "[".repeat(20), "]".repeat(20));
    let mut text = format!("a0: &a0 {}\n", nest("1"));
    for i in 1..10 {
        text.push_str(&format!("a{i}: &a{i} {}\n", nest(&format!("*a{}", i - 1))));
    }
    let errs = errors(&text);
    assert!(errs[0].contains("nesting deeper than 128"), "{errs:?}");
}

#[test]
fn empty_documents_load_defaults() {
    for text in ["", "\n", "# just a comment\n", "---\n", "---\n...\n", "~\n"] {
        let cfg = load_str(text, "g.yaml").unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(cfg.admin.address, "127.0.0.1:9901");
        assert!(cfg.routes.is_empty());
        assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(30));
    }
}

#[test]
fn multiple_documents_rejected() {
    let errs = errors("admin: {address: 127.0.0.1:1}\n---\nroutes: []\n");
    assert_eq!(
        errs,
        ["gateway.yaml:2:1 multiple YAML documents in one file are not supported"]
    );
}

#[test]
fn syntax_error_has_position() {
    let errs = errors("routes:\n  - name: a\n   bad: [\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("gateway.yaml:"), "{errs:?}");
    assert!(
        errs[0]
            .split(':')
            .nth(1)
            .is_some_and(|l| l.parse::<usize>().is_ok())
    );
}

#[test]
fn garbage_never_panics() {
    let mut inputs: Vec<String> = [
        "\0",
        "\u{feff}",
        "[",
        "]",
        "{",
        "}",
        "- - - -",
        ":",
        "? ",
        "&",
        "*",
        "*x",
        "&a *a",
        "a: &a [*a]",
        "!!binary x",
        "!<tag> x",
        "%YAML 1.2\n---\n",
        "%TAG ! !\n",
        "'",
        "\"\\",
        "|\n  x",
        ">-\n",
        "a:\n- b\n c",
        "{a: 1, a: 2}",
        "[a, b]: c",
        "? [a]\n: b",
        "\t\t",
        "0x",
        "0o9",
        "-.inf",
        ".nan",
        "1e9999",
        "99999999999999999999999",
        "--- |",
        "... ...",
        "a: !!str",
        "a: !!int 1",
        "routes: [{name: r, match: {path: {}}}]",
        "\u{10ffff}: \u{0}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Deterministic pseudo-random bytes from a YAML-heavy alphabet.
    let alphabet = b"[]{}:,-?&*!|>'\"#%@` \n\t\\abc019.~";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..2000u64 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(round | 1);
        let len = 1 + (seed >> 58) as usize;
        let mut s = String::new();
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize] as char);
        }
        inputs.push(s);
    }
    // Mutations of a valid config reach the deserializer and validator too.
    let full: Vec<char> = FULL.chars().collect();
    for round in 0..1500u64 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(round | 1);
        let mut text = full.clone();
        for k in 0..1 + (seed >> 61) {
            let at = ((seed >> (k * 7 + 3)) as usize) % text.len();
            let c = alphabet[((seed >> (k * 5 + 11)) as usize) % alphabet.len()] as char;
            match (seed >> (k * 3 + 20)) % 3 {
                0 => text[at] = c,
                1 => text.insert(at, c),
                _ => {
                    text.remove(at);
                }
            }
        }
        inputs.push(text.into_iter().collect());
    }
    let mut failures = 0;
    for text in &inputs {
        // No panic, and every error is well-formed (names the file).
        if let Err(errs) = load_str(text, "f.yaml") {
            failures += 1;
            assert!(!errs.0.is_empty());
            assert!(
                errs.0
                    .iter()
                    .all(|e| e.file == "f.yaml" && !e.message.is_empty())
            );
        }
    }
    assert!(
        failures > inputs.len() / 2,
        "most garbage must be rejected: {failures}"
    );
}

#[test]
fn load_file_labels_errors_with_given_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, "routes:\n  - name: r\n    backend: nope\n").expect("write");
    let errs = load_file(&path).expect_err("invalid");
    assert_eq!(errs.0[0].file, path.display().to_string());
    assert_eq!(errs.0[0].line, Some(3));
    assert_eq!(errs.0[0].message, "unknown backend \"nope\"");

    std::fs::write(&path, "admin: {address: \"[::1]:0\"}\n").expect("write");
    assert_eq!(load_file(&path).expect("valid").admin.address, "[::1]:0");
}

#[test]
fn limit_fields_have_positions() {
    let text = "\
listeners:
  - name: web
    address: 127.0.0.1:8080
    http: {max_uri_bytes: 10}
    connections:
      per_client_ip: 0
      overrides: [{cidr: 10.0.0.0/33, exempt: true}]
policies:
  - name: rl
    rate_limit:
      limits: [{rate: 0}]
      key: [{header: \"bad header\"}]
      ipv6_prefix: 129
      schedule: {windows: [{from: \"25:00\", to: \"06:00\", limits: [{rate: 1}]}]}
  - name: inf
    inflight: {max: 0}
";
    assert_eq!(
        errors(text),
        [
            "gateway.yaml:4:27 listeners[0].http.max_uri_bytes: must be between 64 and 1048576",
            "gateway.yaml:6:22 listeners[0].connections.per_client_ip: must be at least 1 (omit for no limit)",
            "gateway.yaml:7:26 listeners[0].connections.overrides[0].cidr: \"10.0.0.0/33\" is not an IP address or CIDR",
            "gateway.yaml:11:23 policies[0].rate_limit.limits[0].rate: must be between 1 and 1000000000",
            "gateway.yaml:12:22 policies[0].rate_limit.key[0].header: invalid header name \"bad header\"",
            "gateway.yaml:13:20 policies[0].rate_limit.ipv6_prefix: must be between 0 and 128",
            "gateway.yaml:14:35 policies[0].rate_limit.schedule.windows[0].from: \"25:00\" is not HH:MM",
            "gateway.yaml:16:21 policies[1].inflight.max: must be at least 1",
        ]
    );
}

#[test]
fn dns_refresh_must_be_at_least_a_second() {
    let text = "backends:\n  - name: b\n    dns_refresh: 500ms\n    endpoints: [{address: api.internal:80}]\n";
    assert_eq!(
        errors(text),
        ["gateway.yaml:3:18 backends[0].dns_refresh: must be at least 1s"]
    );
}
