//! Semantic validation of a listener's `connections` limits.

use crate::config::spec_conn_limit::ConnectionLimitsSpec;
use crate::config::validate::Issues;
use crate::net::cidr_table::parse_cidr;

pub(crate) fn check(out: &mut Issues, base: &str, c: &ConnectionLimitsSpec) {
    for (name, value) in [("max", c.max), ("per_client_ip", c.per_client_ip)] {
        if value == Some(0) {
            out.push(
                format!("{base}.{name}"),
                "must be at least 1 (omit for no limit)",
            );
        }
    }
    if c.max_requests == Some(0) {
        out.push(
            format!("{base}.max_requests"),
            "must be at least 1 (omit for no limit)",
        );
    }
    for (name, value) in [("idle_timeout", c.idle_timeout), ("max_age", c.max_age)] {
        if value.is_some_and(|d| d.is_zero()) {
            out.push(format!("{base}.{name}"), "must be greater than 0");
        }
    }
    for (i, o) in c.overrides.iter().enumerate() {
        let f = format!("{base}.overrides[{i}]");
        if let Err(e) = parse_cidr(&o.cidr) {
            out.push(format!("{f}.cidr"), e);
        }
        match (o.per_client_ip, o.exempt) {
            (Some(_), true) => out.push(&f, "set per_client_ip or exempt, not both"),
            (None, false) => out.push(&f, "needs per_client_ip or exempt: true"),
            (Some(0), false) => out.push(format!("{f}.per_client_ip"), "must be at least 1"),
            _ => {}
        }
    }
}
