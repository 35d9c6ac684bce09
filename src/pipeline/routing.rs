//! Stage 2, route: the most specific matching route, or 404.

use std::sync::Arc;

use http::request::Parts;

use crate::config::compile::{ListenerRuntime, Route};
use crate::http::reject::Rejection;
use crate::observe::access_log::AccessRecord;
use crate::pipeline::admit::Admitted;
use crate::route::RequestView;

pub(super) fn select<'l>(
    listener: &'l ListenerRuntime,
    parts: &Parts,
    admitted: &Admitted<'_>,
    record: &mut AccessRecord,
) -> Result<&'l Route, Rejection> {
    let view = RequestView {
        host: &admitted.host,
        path: &admitted.path,
        query: parts.uri.query(),
        method: &parts.method,
        headers: &parts.headers,
    };
    let route = listener.routes.find(&view).ok_or(Rejection::NoRoute)?;
    record.route = Some(Arc::clone(&route.name));
    record.metrics = Arc::clone(&route.metrics);
    let Some(anomaly) = &route.anomaly else {
        return Ok(route);
    };
    record.anomaly = Some(Arc::clone(&anomaly.target));
    // Under attack (enforce mode): the same route with the stricter chain;
    // one relaxed load per request decides it.
    match &anomaly.under_attack {
        Some(strict) if anomaly.target.under_attack() => {
            record.under_attack = true;
            Ok(strict)
        }
        _ => Ok(route),
    }
}
