//! `rate_limit`: several GCRA limits on one key, evaluated in the policy
//! chain. Reject (429 + `Retry-After` + `RateLimit-*`), delay (queue until
//! conforming, up to `max_delay`) or dry-run.
//!
//! The state of each limit is a [`BoundedState`]; the policy object is
//! carried across reloads when its spec is unchanged (see
//! `config::compile`), so a reload never hands out fresh bursts, and a
//! policy used by several routes is one limiter unless `scope: route`.
pub mod clock;
pub mod gcra;
pub mod key;
pub mod select;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::config::spec_rate_limit::{RateLimitAction, RateLimitSpec, Scope};
use crate::http::reject::Rejection;
use crate::policy::PolicyInput;
use crate::state::bounded::BoundedState;

use clock::{Clock, MonotonicClock};
use gcra::{Gcra, Verdict};
use key::{KeyBuilder, KeyOutcome};
use select::Selector;

const NS: u64 = 1_000_000_000;

#[derive(Debug)]
struct Limit {
    gcra: Gcra,
    state: BoundedState,
    /// For `RateLimit-Policy`: `rate` per `per` seconds.
    quota: u64,
    window_secs: u64,
}

/// Counters for the metrics exporter (monotonic, relaxed).
#[derive(Debug, Default)]
pub struct Counters {
    pub allowed: AtomicU64,
    pub delayed: AtomicU64,
    pub rejected: AtomicU64,
    pub dry_run_rejected: AtomicU64,
    pub key_missing: AtomicU64,
    pub skipped: AtomicU64,
}

/// A compiled `rate_limit` policy.
#[derive(Debug)]
pub struct RateLimit {
    /// The spec it was built from; equal specs reuse this object on reload.
    pub spec: RateLimitSpec,
    /// Limit sets: 0 is `limits`, then tiers, then schedule windows.
    sets: Vec<Vec<Limit>>,
    selector: Selector,
    key: KeyBuilder,
    delay: bool,
    dry_run: bool,
    status: StatusCode,
    clock: Arc<dyn Clock>,
    pub counters: Counters,
}

/// What the policy decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    /// Accepted after waiting this long.
    Delay(Duration),
    /// Over a limit: `limit` in limit set `set`.
    Reject {
        retry_after_ns: u64,
        set: usize,
        limit: usize,
    },
    /// The key is missing and `missing_key: reject`.
    KeyMissing,
    /// Would have been rejected; dry-run lets it through.
    DryRunReject,
}

impl RateLimit {
    pub fn compile(spec: &RateLimitSpec) -> Result<Self, String> {
        Self::with_clock(spec, Arc::new(MonotonicClock::default()))
    }

    pub fn with_clock(spec: &RateLimitSpec, clock: Arc<dyn Clock>) -> Result<Self, String> {
        if spec.limits.is_empty() {
            return Err("limits: at least one limit is required".to_owned());
        }
        let delay = spec.action == RateLimitAction::Delay;
        let max_delay = if delay {
            spec.max_delay
        } else {
            Duration::ZERO
        };
        let mut sets = vec![build_limits(
            "limits",
            &spec.limits,
            max_delay,
            spec.max_keys,
        )?];
        for (i, tier) in spec.tiers.iter().flat_map(|t| &t.levels).enumerate() {
            let field = format!("tiers.levels[{i}].limits");
            sets.push(build_limits(
                &field,
                &tier.limits,
                max_delay,
                spec.max_keys,
            )?);
        }
        for (i, window) in spec.schedule.iter().flat_map(|s| &s.windows).enumerate() {
            let field = format!("schedule.windows[{i}].limits");
            sets.push(build_limits(
                &field,
                &window.limits,
                max_delay,
                spec.max_keys,
            )?);
        }
        let selector = Selector::compile(spec.tiers.as_ref(), spec.schedule.as_ref())?;
        let key = KeyBuilder::compile(
            &spec.key,
            spec.ipv4_prefix,
            spec.ipv6_prefix,
            spec.missing_key,
            spec.scope == Scope::Route,
        )?;
        let status = StatusCode::from_u16(spec.status).map_err(|_| "status: invalid".to_owned())?;
        Ok(Self {
            spec: spec.clone(),
            sets,
            selector,
            key,
            delay,
            dry_run: spec.dry_run,
            status,
            clock,
            counters: Counters::default(),
        })
    }

    /// Whether the key or the tier is read from the principal (so an
    /// authentication policy must run first).
    pub fn reads_principal(&self) -> bool {
        self.key.reads_principal() || self.selector.reads_principal()
    }

    /// Decides for one request; every limit must pass. A request rejected
    /// by a later limit gives back what earlier limits charged it, so a
    /// rejection never consumes allowance.
    pub fn check(&self, input: &PolicyInput<'_>) -> Outcome {
        let key = match self.key.key(input) {
            KeyOutcome::Key(k) => k,
            KeyOutcome::Skip => {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                return Outcome::Allow;
            }
            KeyOutcome::Reject => {
                self.counters.key_missing.fetch_add(1, Ordering::Relaxed);
                if self.dry_run {
                    return Outcome::DryRunReject;
                }
                return Outcome::KeyMissing;
            }
        };
        let now = self.clock.now_ns();
        let set = self.selector.select(input, self.clock.wall_secs());
        let Some(limits) = self.sets.get(set) else {
            return Outcome::Allow; // unreachable: the selector only names compiled sets
        };
        let mut delay_ns = 0;
        for (i, limit) in limits.iter().enumerate() {
            match limit.state.with(key, now, |tat| limit.gcra.check(tat, now)) {
                Verdict::Allow { delay_ns: d, .. } => delay_ns = delay_ns.max(d),
                Verdict::Deny { retry_after_ns } => {
                    for earlier in &limits[..i] {
                        earlier.state.with(key, now, |tat| earlier.gcra.refund(tat));
                    }
                    if self.dry_run {
                        self.counters
                            .dry_run_rejected
                            .fetch_add(1, Ordering::Relaxed);
                        return Outcome::DryRunReject;
                    }
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    return Outcome::Reject {
                        retry_after_ns,
                        set,
                        limit: i,
                    };
                }
            }
        }
        self.counters.allowed.fetch_add(1, Ordering::Relaxed);
        if delay_ns > 0 && self.delay {
            self.counters.delayed.fetch_add(1, Ordering::Relaxed);
            return Outcome::Delay(Duration::from_nanos(delay_ns));
        }
        Outcome::Allow
    }

    /// The typed rejection for an outcome that rejects.
    pub fn rejection(&self, policy: &Arc<str>, outcome: Outcome) -> Option<Rejection> {
        let (retry_after_ns, set, limit, reason) = match outcome {
            Outcome::Reject {
                retry_after_ns,
                set,
                limit,
            } => (retry_after_ns, set, limit, "rate_limited"),
            Outcome::KeyMissing => (0, 0, 0, "rate_limit_key_missing"),
            _ => return None,
        };
        let (quota, window_secs) = self
            .sets
            .get(set)
            .and_then(|limits| limits.get(limit))
            .map_or((0, 1), |l| (l.quota, l.window_secs));
        Some(Rejection::RateLimited {
            policy: Arc::clone(policy),
            reason,
            status: self.status,
            retry_after_secs: retry_after_ns.div_ceil(NS).max(1),
            quota,
            window_secs,
        })
    }

    /// Keys tracked by each limit, and heap bytes per key.
    pub fn tracked(&self) -> Vec<(usize, f64)> {
        self.sets
            .iter()
            .flatten()
            .map(|l| (l.state.len(), l.state.bytes_per_key()))
            .collect()
    }
}

fn build_limits(
    field: &str,
    specs: &[crate::config::spec_rate_limit::LimitSpec],
    max_delay: Duration,
    max_keys: usize,
) -> Result<Vec<Limit>, String> {
    if specs.is_empty() {
        return Err(format!("{field}: at least one limit is required"));
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let burst = l.burst.unwrap_or(l.rate);
            let gcra = Gcra::new(l.rate, l.per, burst, max_delay)
                .ok_or_else(|| format!("{field}[{i}]: rate, per and burst do not form a limit"))?;
            Ok(Limit {
                gcra,
                state: BoundedState::new(max_keys),
                quota: l.rate,
                window_secs: l.per.as_secs().max(1),
            })
        })
        .collect()
}

/// The previous generation's limiter when its spec is unchanged (its state
/// carries over), else a new one.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    spec: &RateLimitSpec,
) -> Result<Arc<RateLimit>, String> {
    if let Some(crate::policy::PolicyKind::RateLimit(old)) = previous
        && old.spec == *spec
    {
        return Ok(Arc::clone(old));
    }
    RateLimit::compile(spec).map(Arc::new)
}

#[cfg(test)]
mod tests;
