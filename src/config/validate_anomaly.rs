//! Semantic validation of `anomaly` (top level) and each route's `anomaly`
//! block (field paths resolve to file:line:col in the loader).

use std::collections::HashSet;
use std::time::Duration;

use crate::config::spec::GatewayConfig;
use crate::config::spec_anomaly::{AnomalyMode, AnomalySpec};
use crate::config::validate::Issues;

pub(crate) fn check(out: &mut Issues, cfg: &GatewayConfig) {
    if let Some(g) = &cfg.anomaly {
        if g.tick < Duration::from_millis(50) || g.tick > Duration::from_secs(60) {
            out.push("anomaly.tick", "must be between 50ms and 60s");
        }
        if g.client_slots == 0 || g.client_slots > 1 << 20 {
            out.push("anomaly.client_slots", "must be between 1 and 1048576");
        }
        if g.top_talkers == 0 || g.top_talkers > 1024 {
            out.push("anomaly.top_talkers", "must be between 1 and 1024");
        }
        if let Some(l) = &g.listeners {
            if l.mode == AnomalyMode::Enforce {
                out.push(
                    "anomaly.listeners.mode",
                    "listener baselines only observe; enforce on a route",
                );
            }
            if !l.under_attack_policies.is_empty() {
                out.push(
                    "anomaly.listeners.under_attack_policies",
                    "listener baselines only observe; set it on a route",
                );
            }
            check_spec(out, "anomaly.listeners", l, &|_| true);
        }
    }
    let policies: HashSet<&str> = cfg.policies.iter().map(|p| p.name.as_str()).collect();
    let known = |name: &str| policies.contains(name);
    for (i, r) in cfg.routes.iter().enumerate() {
        if let Some(a) = &r.anomaly {
            let base = format!("routes[{i}].anomaly");
            check_spec(out, &base, a, &known);
            if a.mode == AnomalyMode::Enforce && a.under_attack_policies.is_empty() {
                out.push(
                    format!("{base}.under_attack_policies"),
                    "enforce needs at least one policy to add under attack",
                );
            }
        }
    }
}

fn check_spec(out: &mut Issues, base: &str, a: &AnomalySpec, known: &dyn Fn(&str) -> bool) {
    for (j, name) in a.under_attack_policies.iter().enumerate() {
        if !known(name) {
            out.push(
                format!("{base}.under_attack_policies[{j}]"),
                format!("unknown policy {name:?}"),
            );
        }
    }
    if a.signals.is_empty() {
        out.push(format!("{base}.signals"), "at least one signal is required");
    }
    let mut seen = HashSet::new();
    for (j, s) in a.signals.iter().enumerate() {
        if !seen.insert(*s) {
            out.push(
                format!("{base}.signals[{j}]"),
                format!("duplicate signal {:?}", s.name()),
            );
        }
    }
    if !(a.sigmas.is_finite() && (0.5..=100.0).contains(&a.sigmas)) {
        out.push(format!("{base}.sigmas"), "must be between 0.5 and 100");
    }
    let between = |out: &mut Issues, field: &str, d: Duration, min: Duration, max: Duration| {
        if d < min || d > max {
            out.push(
                format!("{base}.{field}"),
                format!(
                    "must be between {} and {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            );
        }
    };
    let hour = Duration::from_secs(3600);
    between(out, "sustain", a.sustain, Duration::ZERO, hour);
    between(out, "recover", a.recover, Duration::ZERO, 24 * hour);
    between(
        out,
        "half_life",
        a.half_life,
        Duration::from_millis(100),
        7 * 24 * hour,
    );
    between(out, "warmup", a.warmup, Duration::ZERO, 24 * hour);
    if a.min_requests > 1_000_000 {
        out.push(format!("{base}.min_requests"), "must be at most 1000000");
    }
    let f = &a.floors;
    let floors = [
        ("request_rate", f.request_rate, f64::MAX),
        ("error_ratio", f.error_ratio, 1.0),
        ("latency_ms", f.latency_ms, f64::MAX),
        ("new_clients", f.new_clients, f64::MAX),
        ("top_client_share", f.top_client_share, 1.0),
    ];
    for (name, v, max) in floors {
        if !(v.is_finite() && v > 0.0 && v <= max) {
            let range = if max == 1.0 { " and at most 1" } else { "" };
            out.push(
                format!("{base}.floors.{name}"),
                format!("must be a positive number{range}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_str;

    fn errors(yaml: &str) -> String {
        match load_str(yaml, "t.yaml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    fn config(global: &str, route: &str) -> String {
        format!(
            "{global}policies:\n  - {{ name: tight, rate_limit: {{ limits: [{{ rate: 5, per: 1s, burst: 5 }}], key: [route] }} }}\nlisteners:\n  - {{ name: web, address: 127.0.0.1:0 }}\nroutes:\n  - name: r\n    direct_response: {{ body: ok }}\n    anomaly: {{ {route} }}\n"
        )
    }

    #[test]
    fn every_field_has_a_wrong_value_test() {
        let good = config(
            "anomaly: { tick: 100ms }\n",
            "mode: enforce, under_attack_policies: [tight]",
        );
        assert_eq!(errors(&good), "");
        let route = |extra: &str| config("", extra);
        let global = |extra: &str| config(&format!("anomaly: {{ {extra} }}\n"), "");
        let cases = [
            (
                route("mode: enforce"),
                "routes[0].anomaly.under_attack_policies",
            ),
            (route("mode: loud"), "routes[0].anomaly.mode"),
            (
                route("under_attack_policies: [nope]"),
                "routes[0].anomaly.under_attack_policies[0]: unknown policy",
            ),
            (route("signals: []"), "routes[0].anomaly.signals"),
            (
                route("signals: [latency, latency]"),
                "routes[0].anomaly.signals[1]: duplicate",
            ),
            (route("signals: [vibes]"), "routes[0].anomaly.signals"),
            (route("sigmas: 0"), "routes[0].anomaly.sigmas"),
            (route("sustain: 2h"), "routes[0].anomaly.sustain"),
            (route("recover: 2d"), "routes[0].anomaly.recover"),
            (route("half_life: 1ms"), "routes[0].anomaly.half_life"),
            (route("warmup: 2d"), "routes[0].anomaly.warmup"),
            (
                route("min_requests: 2000000"),
                "routes[0].anomaly.min_requests",
            ),
            (
                route("floors: { request_rate: 0 }"),
                "routes[0].anomaly.floors.request_rate",
            ),
            (
                route("floors: { error_ratio: 2 }"),
                "routes[0].anomaly.floors.error_ratio",
            ),
            (
                route("floors: { latency_ms: -1 }"),
                "routes[0].anomaly.floors.latency_ms",
            ),
            (
                route("floors: { new_clients: 0 }"),
                "routes[0].anomaly.floors.new_clients",
            ),
            (
                route("floors: { top_client_share: 1.5 }"),
                "routes[0].anomaly.floors.top_client_share",
            ),
            (route("floors: { nope: 1 }"), "routes[0].anomaly.floors"),
            (global("tick: 1ms"), "anomaly.tick"),
            (global("client_slots: 0"), "anomaly.client_slots"),
            (global("top_talkers: 0"), "anomaly.top_talkers"),
            (
                global("listeners: { mode: enforce }"),
                "anomaly.listeners.mode",
            ),
            (
                global("listeners: { under_attack_policies: [tight] }"),
                "anomaly.listeners.under_attack_policies",
            ),
            (
                global("listeners: { sigmas: 1000 }"),
                "anomaly.listeners.sigmas",
            ),
        ];
        for (yaml, expected) in cases {
            let got = errors(&yaml);
            assert!(
                got.contains(expected),
                "{yaml}: expected {expected:?} in {got}"
            );
        }
        // Paths resolve to the line of the offending field.
        assert!(
            errors(&route("sigmas: 0")).contains("t.yaml:8:24"),
            "{}",
            errors(&route("sigmas: 0"))
        );
    }
}
