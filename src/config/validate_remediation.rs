//! Semantic validation of `remediation` (field paths resolve to
//! file:line:col in the loader).

use std::collections::HashSet;
use std::time::Duration;

use crate::config::spec_remediation::RemediationSpec;
use crate::config::validate::Issues;
use crate::net::cidr_table::parse_cidr;

pub(crate) fn check(out: &mut Issues, r: &RemediationSpec) {
    let base = "remediation";
    for (i, cidr) in r.allow.iter().enumerate() {
        if let Err(e) = parse_cidr(cidr) {
            out.push(format!("{base}.allow[{i}]"), e);
        }
    }
    if r.max_clients == 0 || r.max_clients > 10_000_000 {
        out.push(
            format!("{base}.max_clients"),
            "must be between 1 and 10000000",
        );
    }
    let mut names = HashSet::new();
    for (i, s) in r.scenarios.iter().enumerate() {
        let f = format!("{base}.scenarios[{i}]");
        if s.name.is_empty() {
            out.push(format!("{f}.name"), "must not be empty");
        } else if !names.insert(s.name.as_str()) {
            out.push(
                format!("{f}.name"),
                format!("duplicate scenario {:?}", s.name),
            );
        }
        if s.capacity == 0 || s.capacity > 1_000_000 {
            out.push(format!("{f}.capacity"), "must be between 1 and 1000000");
        }
        if s.leak < Duration::from_millis(1) || s.leak > Duration::from_secs(86_400) {
            out.push(format!("{f}.leak"), "must be between 1ms and 24h");
        }
        if s.ban.is_empty() {
            out.push(format!("{f}.ban"), "at least one duration is required");
        }
        for (j, d) in s.ban.iter().enumerate() {
            if *d < Duration::from_secs(1) || *d > Duration::from_secs(365 * 86_400) {
                out.push(format!("{f}.ban[{j}]"), "must be between 1s and 365d");
            }
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

    #[test]
    fn every_field_has_a_wrong_value_test() {
        let scenario = |extra: &str| {
            format!(
                "remediation:\n  scenarios:\n    - {{ name: s, signal: auth_failure, capacity: 5, leak: 10s{extra} }}\n"
            )
        };
        assert_eq!(errors(&scenario("")), "");
        let cases = [
            (
                scenario(", capacity: 0"),
                "remediation.scenarios[0].capacity",
            ),
            (scenario(", leak: 0s"), "remediation.scenarios[0].leak"),
            (
                scenario(", ban: []"),
                "remediation.scenarios[0].ban: at least one",
            ),
            (scenario(", ban: [0s]"), "remediation.scenarios[0].ban[0]"),
            (scenario(", ban: [soon]"), "remediation.scenarios[0].ban"),
            (
                scenario(", signal: vibes"),
                "remediation.scenarios[0].signal",
            ),
            (scenario(", name: ''"), "remediation.scenarios[0].name"),
            (
                "remediation: { allow: [10.0.0.1/8] }\n".to_owned(),
                "t.yaml:1:24 remediation.allow[0]",
            ),
            (
                "remediation: { max_clients: 0 }\n".to_owned(),
                "remediation.max_clients",
            ),
            (
                "remediation: { dry_run: maybe }\n".to_owned(),
                "remediation.dry_run",
            ),
        ];
        for (yaml, expected) in cases {
            let got = errors(&yaml);
            assert!(
                got.contains(expected),
                "{yaml}: expected {expected:?} in {got}"
            );
        }
        let dup = "remediation:\n  scenarios:\n    - { name: s, signal: auth_failure, capacity: 5, leak: 10s }\n    - { name: s, signal: rate_limited, capacity: 5, leak: 10s }\n";
        assert!(
            errors(dup).contains("duplicate scenario"),
            "{}",
            errors(dup)
        );
    }
}
