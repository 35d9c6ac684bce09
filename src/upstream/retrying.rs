//! Forwarding under a route's retry policy: another try (on another
//! endpoint when there is one) after a connect failure, or after a 502,
//! 503 or 504 — an attempt that timed out counts as 504 — for idempotent
//! methods, while attempts, the route's deadline and the retry budget
//! allow, and only when the body can be sent again exactly.

use std::time::Instant;

use crate::http::body::RequestBody;
use crate::upstream::backend::Backend;
use crate::upstream::balance::PickContext;
use crate::upstream::clock;
use crate::upstream::forward::{self, Failed, UpstreamError, UpstreamRequest, Upstreamed};
use crate::upstream::retry::RetryPolicy;

/// What the retries did, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetryStats {
    pub retries: u32,
    /// A retry was wanted and the budget had none.
    pub budget_exhausted: bool,
}

pub async fn forward(
    backend: &Backend,
    request: UpstreamRequest<'_>,
    body: RequestBody,
    hash_key: Option<u64>,
    policy: &RetryPolicy,
    stats: &mut RetryStats,
) -> Result<Upstreamed, Failed> {
    policy.budget.record_request(clock::now_ms());
    let set = backend.endpoints();
    let pick = |exclude| {
        set.balancer.pick(
            &set.endpoints,
            PickContext {
                hash_key,
                exclude,
                now_ms: clock::now_ms(),
            },
        )
    };
    let Some(mut index) = pick(None) else {
        return Err(Failed {
            error: UpstreamError::ConnectFailed,
            endpoint: None,
        });
    };
    let request = UpstreamRequest {
        attempt_timeout: policy.per_try_timeout.or(request.attempt_timeout),
        ..request
    };
    let idempotent = forward::is_idempotent(request.method);
    let replay = body.replayable();
    let mut body = Some(body);
    loop {
        let sent = body.take().unwrap_or(RequestBody::Empty);
        let result = forward::attempt(backend, &set.endpoints[index], &request, sent).await;
        let wanted = match &result {
            Ok(upstreamed) => idempotent && policy.retries_status(upstreamed.response.status()),
            Err(failed) => match failed.error {
                UpstreamError::ConnectFailed => policy.connect_failure,
                UpstreamError::Timeout => {
                    idempotent && policy.retries_status(http::StatusCode::GATEWAY_TIMEOUT)
                }
                UpstreamError::Protocol | UpstreamError::ClientBody(_) => false,
            },
        };
        let in_time = request.deadline.is_none_or(|d| Instant::now() < d);
        let Some(again) = replay.as_ref() else {
            return result;
        };
        if !wanted || stats.retries >= policy.attempts || !in_time {
            return result;
        }
        if !policy.budget.try_retry(clock::now_ms()) {
            stats.budget_exhausted = true;
            return result;
        }
        stats.retries += 1;
        // Another endpoint when there is one; a lone endpoint is tried again.
        index = pick(Some(index)).unwrap_or(index);
        body = again.replayable();
        // The discarded answer's body (and its connection) is dropped here.
        drop(result);
    }
}
