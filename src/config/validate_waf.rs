//! Checks of `waf` policies. Every value that ends up in generated SecLang
//! (tags, targets, CRS setting names and values) is restricted to
//! characters that cannot close a quote or start a directive; the rule
//! files themselves are parsed when the policy is compiled (errors name
//! file:line).

use crate::config::spec::GatewayConfig;
use crate::config::spec_waf::WafSpec;
use crate::config::validate::Issues;

pub(crate) fn check(out: &mut Issues, base: &str, spec: &WafSpec) {
    if spec.crs.is_none() && spec.rules.is_empty() {
        out.push(
            base,
            "a waf policy needs `crs` (a CRS directory) or `rules` (files)",
        );
    }
    if let Some(crs) = &spec.crs {
        let dir = std::path::Path::new(crs);
        if !dir.join("rules").is_dir() {
            out.push(
                format!("{base}.crs"),
                format!("{crs}: not a CRS directory (no rules/ folder)"),
            );
        }
    }
    for (i, file) in spec.rules.iter().enumerate() {
        if file.is_empty() {
            out.push(format!("{base}.rules[{i}]"), "empty path");
        }
    }
    if !(1..=4).contains(&spec.paranoia_level) {
        out.push(format!("{base}.paranoia_level"), "must be 1, 2, 3 or 4");
    }
    if let Some(level) = spec.detection_paranoia_level
        && (!(1..=4).contains(&level) || level < spec.paranoia_level)
    {
        out.push(
            format!("{base}.detection_paranoia_level"),
            "must be 1 to 4 and at least paranoia_level",
        );
    }
    if spec.anomaly_threshold.inbound == 0 || spec.anomaly_threshold.outbound == 0 {
        out.push(
            format!("{base}.anomaly_threshold"),
            "thresholds must be at least 1 (0 would refuse every request)",
        );
    }
    if spec.request_body.inspect && spec.request_body.max_bytes == 0 {
        out.push(
            format!("{base}.request_body.max_bytes"),
            "must be above 0 when inspecting bodies",
        );
    }
    if spec.response_body.inspect && spec.response_body.max_bytes == 0 {
        out.push(
            format!("{base}.response_body.max_bytes"),
            "must be above 0 when inspecting bodies",
        );
    }
    for (i, mime) in spec.response_body.mime_types.iter().enumerate() {
        if mime.is_empty()
            || !mime
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b))
        {
            out.push(
                format!("{base}.response_body.mime_types[{i}]"),
                format!("`{mime}` is not a media type like text/html"),
            );
        }
    }
    for (key, value) in &spec.crs_settings {
        let field = format!("{base}.crs_settings.{key}");
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.push(
                &field,
                "names are letters, digits and `_` (a CRS tx variable)",
            );
        }
        if !value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !b"'\"\\%".contains(&b))
        {
            out.push(
                &field,
                "values are printable ASCII without quotes, `\\` or `%`",
            );
        }
    }
    for (i, ex) in spec.exclusions.iter().enumerate() {
        let field = format!("{base}.exclusions[{i}]");
        if ex.rule_ids.is_empty() && ex.tags.is_empty() {
            out.push(&field, "an exclusion names `rule_ids` or `tags`");
        }
        for (j, id) in ex.rule_ids.iter().enumerate() {
            if let Err(e) = id.range() {
                out.push(format!("{field}.rule_ids[{j}]"), e);
            }
        }
        for (j, tag) in ex.tags.iter().enumerate() {
            if tag.is_empty()
                || !tag
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"'\"\\;,%".contains(&b))
            {
                out.push(
                    format!("{field}.tags[{j}]"),
                    format!("`{tag}` is not a rule tag like attack-sqli or paranoia-level/2"),
                );
            }
        }
        if let Some(target) = &ex.target
            && !valid_target(target)
        {
            out.push(
                format!("{field}.target"),
                format!(
                    "`{target}` is not a variable like ARGS:password or REQUEST_COOKIES:session"
                ),
            );
        }
        for (j, path) in ex.paths.iter().enumerate() {
            if !path.starts_with('/') {
                out.push(
                    format!("{field}.paths[{j}]"),
                    "a path prefix starts with `/`",
                );
            }
        }
    }
}

/// `COLLECTION` or `COLLECTION:key` with a plain key (no regex selectors:
/// they would not survive the generated `ctl` syntax).
fn valid_target(target: &str) -> bool {
    let (collection, key) = target.split_once(':').unwrap_or((target, ""));
    !collection.is_empty()
        && collection
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b))
        && target.contains(':') != key.is_empty()
}

/// At most one `waf` policy applies to a route (its listener's policies
/// and its own): two would run the rules twice and share one transaction.
pub(crate) fn check_one_per_chain(out: &mut Issues, cfg: &GatewayConfig) {
    let is_waf = |name: &str| {
        cfg.policies
            .iter()
            .any(|p| p.name == name && p.waf.is_some())
    };
    for (ri, route) in cfg.routes.iter().enumerate() {
        for listener in cfg
            .listeners
            .iter()
            .filter(|l| route.listeners.is_empty() || route.listeners.contains(&l.name))
        {
            let count = listener
                .policies
                .iter()
                .chain(route.policies.iter())
                .filter(|p| is_waf(p))
                .count();
            if count > 1 {
                out.push(
                    format!("routes[{ri}].policies"),
                    format!(
                        "more than one waf policy applies on listener `{}`; use one (exclusions can be scoped to routes)",
                        listener.name
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert!(valid_target("ARGS:password"));
        assert!(valid_target("REQUEST_COOKIES:session-id"));
        assert!(valid_target("REQUEST_BODY"));
        assert!(!valid_target("ARGS:"));
        assert!(!valid_target("ARGS:/^a/"));
        assert!(!valid_target("args:x"));
        assert!(!valid_target("ARGS:x\" \"id:1"));
    }
}
