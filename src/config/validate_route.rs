//! Semantic validation of a route's filters and redirect, through the same
//! compile functions the snapshot uses (so `validate` and `run` agree):
//! conflicts (redirect with a backend, rewrite without one), bad header
//! names and value templates, bad regexes, statuses and host names.

use crate::config::spec::RouteSpec;
use crate::config::validate::Issues;
use crate::http::filter::{RouteFilters, redirect::Redirect, route_prefix};

pub(crate) fn check(
    out: &mut Issues,
    base: &str,
    route: &RouteSpec,
    backends: &dyn Fn(&str) -> bool,
) {
    if !route.backends.is_empty() || route.canary.is_some() {
        if route.direct_response.is_some() {
            out.push(
                format!("{base}.backends"),
                "set backends or direct_response, not both",
            );
        }
        // Names only (`()` stands for a backend): the same rules as the
        // snapshot's compile.
        let lookup = |name: &str| backends(name).then_some(());
        if let Err((field, message)) = crate::upstream::split::BackendSplit::compile(route, lookup)
        {
            out.push(join(base, &field), message);
        }
    }
    if let Some(redirect) = &route.redirect {
        if route.backend.is_some() || !route.backends.is_empty() || route.direct_response.is_some()
        {
            out.push(
                format!("{base}.redirect"),
                "a redirect is the route's answer: set only one of backend, direct_response, redirect",
            );
        }
        if let Err((field, message)) = Redirect::compile(redirect, route_prefix(route)) {
            out.push(join(&format!("{base}.redirect"), &field), message);
        }
    }
    if let Err((field, message)) = RouteFilters::compile(route) {
        out.push(join(base, &field), message);
    }
    if let Some(mirror) = &route.mirror {
        if route.backend.is_none() && route.backends.is_empty() {
            out.push(
                format!("{base}.mirror"),
                "a mirror copies forwarded requests: the route needs a backend",
            );
        }
        if !backends(&mirror.backend) {
            out.push(
                format!("{base}.mirror.backend"),
                format!("unknown backend {:?}", mirror.backend),
            );
        }
        if let Err((field, message)) = crate::upstream::mirror::check(mirror) {
            out.push(format!("{base}.mirror.{field}"), message);
        }
    }
}

fn join(base: &str, field: &str) -> String {
    if field.is_empty() {
        base.to_owned()
    } else {
        format!("{base}.{field}")
    }
}
