//! `rate_limit`: several GCRA limits on one key, evaluated in the policy
//! chain. Reject (429 + `Retry-After` + `RateLimit-*`), delay (queue until
//! conforming, up to `max_delay`) or dry-run.
//!
//! The state lives in a store (`state::rate`): the bounded memory store by
//! default. The policy object is carried across reloads when its spec is
//! unchanged (see `config::compile`), so a reload never hands out fresh
//! bursts, and a policy used by several routes is one limiter unless
//! `scope: route`.
pub mod clock;
pub mod gcra;
pub mod key;
pub mod select;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::config::spec_rate_limit::{RateLimitAction, RateLimitSpec, Scope};
use crate::config::spec_redis::{FailureMode, StoreBackend};
use crate::http::reject::Rejection;
use crate::policy::PolicyInput;
use crate::state::SharedState;
use crate::state::rate::{MemoryRates, RateStore, RateVerdict};
use crate::state::redis::rates::RedisRates;

use clock::{Clock, MonotonicClock};
use gcra::Gcra;
use key::{KeyBuilder, KeyOutcome};
use select::Selector;

const NS: u64 = 1_000_000_000;

/// One limit set's compiled limits.
#[derive(Debug)]
struct LimitSet {
    gcra: Vec<Gcra>,
    /// For `RateLimit-Policy`: `rate` per `per` seconds, per limit.
    quotas: Vec<(u64, u64)>,
}

/// Where the limiter state lives; an enum (not `dyn`) so the memory arm
/// stays a direct call on the request path.
#[derive(Debug)]
enum LimitStore {
    Memory(MemoryRates),
    Redis(Box<SharedLimits>),
}

/// A limit shared by replicas, and what it does while Redis cannot answer.
#[derive(Debug)]
struct SharedLimits {
    redis: RedisRates,
    mode: FailureMode,
    /// `fail_open`: the limits ÷ replicas, on a local store.
    fallback: Vec<Vec<Gcra>>,
    local: MemoryRates,
    closed_status: StatusCode,
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
    /// Decisions the shared store could not take (failure mode applied).
    pub store_failures: AtomicU64,
}

/// A compiled `rate_limit` policy.
#[derive(Debug)]
pub struct RateLimit {
    /// The spec it was built from; equal specs reuse this object on reload.
    pub spec: RateLimitSpec,
    /// Limit sets: 0 is `limits`, then tiers, then schedule windows.
    sets: Vec<LimitSet>,
    store: LimitStore,
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
    /// The shared store cannot answer and the policy fails closed.
    StoreUnavailable,
    /// Would have been rejected; dry-run lets it through.
    DryRunReject,
}

impl RateLimit {
    pub fn compile(spec: &RateLimitSpec) -> Result<Self, String> {
        Self::with_clock(spec, Arc::new(MonotonicClock::default()))
    }

    /// Compiles a policy whose `store` may be the shared one; `name` keeps
    /// policies apart in Redis.
    pub fn compile_shared(
        name: &str,
        spec: &RateLimitSpec,
        shared: &SharedState,
    ) -> Result<Self, String> {
        let mut limit = Self::compile(spec)?;
        if spec.store.backend == StoreBackend::Memory {
            return Ok(limit);
        }
        // A detached compile (`validate`, tests) connects nothing: the
        // policy is checked in full and keeps the memory store.
        let Some(redis) = shared.redis.as_ref() else {
            return Ok(limit);
        };
        let replicas = u64::from(spec.store.replicas.max(1));
        let fallback: Vec<Vec<Gcra>> = limit
            .sets
            .iter()
            .map(|set| set.gcra.iter().map(|g| g.divided(replicas)).collect())
            .collect();
        let shape: Vec<usize> = fallback.iter().map(Vec::len).collect();
        let closed_status = StatusCode::from_u16(spec.store.fail_closed_status)
            .map_err(|_| "store.fail_closed_status: invalid".to_owned())?;
        limit.key = limit.key.shared(redis.key_hasher.clone());
        limit.store = LimitStore::Redis(Box::new(SharedLimits {
            redis: RedisRates::new(Arc::clone(redis), name),
            mode: spec.store.on_failure,
            fallback,
            local: MemoryRates::new(&shape, spec.max_keys),
            closed_status,
        }));
        Ok(limit)
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
        let mut sets = vec![build_limits("limits", &spec.limits, max_delay)?];
        for (i, tier) in spec.tiers.iter().flat_map(|t| &t.levels).enumerate() {
            let field = format!("tiers.levels[{i}].limits");
            sets.push(build_limits(&field, &tier.limits, max_delay)?);
        }
        for (i, window) in spec.schedule.iter().flat_map(|s| &s.windows).enumerate() {
            let field = format!("schedule.windows[{i}].limits");
            sets.push(build_limits(&field, &window.limits, max_delay)?);
        }
        let shape: Vec<usize> = sets.iter().map(|s| s.gcra.len()).collect();
        let store = LimitStore::Memory(MemoryRates::new(&shape, spec.max_keys));
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
            store,
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

    /// Decides for one request against the memory store; every limit must
    /// pass, and a rejection by a later limit charges none of them.
    pub fn check(&self, input: &PolicyInput<'_>) -> Outcome {
        let (key, set, now) = match self.prepare(input) {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let Some(limits) = self.sets.get(set) else {
            return Outcome::Allow; // unreachable: the selector only names compiled sets
        };
        let verdict = match &self.store {
            LimitStore::Memory(memory) => memory.decide_now(set, key, &limits.gcra, now),
            // The synchronous path of a shared limit is its local fallback.
            LimitStore::Redis(shared) => match shared.fallback.get(set) {
                Some(gcra) => shared.local.decide_now(set, key, gcra, now),
                None => RateVerdict::Allow { delay_ns: 0 },
            },
        };
        self.finish(verdict, set)
    }

    /// Decides for one request against the configured store. A shared
    /// store that fails (error, deadline, open breaker) applies the
    /// policy's failure mode; nothing waits past the store's deadline.
    pub async fn decide(&self, input: &PolicyInput<'_>) -> Outcome {
        let LimitStore::Redis(shared) = &self.store else {
            return self.check(input);
        };
        let (key, set, now) = match self.prepare(input) {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let Some(limits) = self.sets.get(set) else {
            return Outcome::Allow;
        };
        match shared.redis.decide(set, key, &limits.gcra, now).await {
            Ok(verdict) => self.finish(verdict, set),
            Err(_) => {
                self.counters.store_failures.fetch_add(1, Ordering::Relaxed);
                match shared.mode {
                    FailureMode::FailClosed if self.dry_run => Outcome::DryRunReject,
                    FailureMode::FailClosed => Outcome::StoreUnavailable,
                    FailureMode::FailOpen => {
                        let verdict = match shared.fallback.get(set) {
                            Some(gcra) => shared.local.decide_now(set, key, gcra, now),
                            None => RateVerdict::Allow { delay_ns: 0 },
                        };
                        self.finish(verdict, set)
                    }
                }
            }
        }
    }

    /// The key, limit set and time of a request, or the outcome when the
    /// key decides it alone (skip, missing).
    fn prepare(&self, input: &PolicyInput<'_>) -> Result<(u64, usize, u64), Outcome> {
        let key = match self.key.key(input) {
            KeyOutcome::Key(k) => k,
            KeyOutcome::Skip => {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                return Err(Outcome::Allow);
            }
            KeyOutcome::Reject => {
                self.counters.key_missing.fetch_add(1, Ordering::Relaxed);
                if self.dry_run {
                    return Err(Outcome::DryRunReject);
                }
                return Err(Outcome::KeyMissing);
            }
        };
        let now = self.clock.now_ns();
        let set = self.selector.select(input, self.clock.wall_secs());
        Ok((key, set, now))
    }

    /// Counts and maps a store verdict.
    fn finish(&self, verdict: RateVerdict, set: usize) -> Outcome {
        match verdict {
            RateVerdict::Deny {
                limit,
                retry_after_ns,
            } => {
                if self.dry_run {
                    self.counters
                        .dry_run_rejected
                        .fetch_add(1, Ordering::Relaxed);
                    return Outcome::DryRunReject;
                }
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Outcome::Reject {
                    retry_after_ns,
                    set,
                    limit,
                }
            }
            RateVerdict::Allow { delay_ns } => {
                self.counters.allowed.fetch_add(1, Ordering::Relaxed);
                if delay_ns > 0 && self.delay {
                    self.counters.delayed.fetch_add(1, Ordering::Relaxed);
                    return Outcome::Delay(Duration::from_nanos(delay_ns));
                }
                Outcome::Allow
            }
        }
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
            Outcome::StoreUnavailable => {
                let status = match &self.store {
                    LimitStore::Redis(shared) => shared.closed_status,
                    LimitStore::Memory(_) => StatusCode::SERVICE_UNAVAILABLE,
                };
                return Some(Rejection::RateLimited {
                    policy: Arc::clone(policy),
                    reason: "rate_limit_store_unavailable",
                    status,
                    retry_after_secs: 1,
                    quota: 0,
                    window_secs: 1,
                });
            }
            _ => return None,
        };
        let (quota, window_secs) = self
            .sets
            .get(set)
            .and_then(|limits| limits.quotas.get(limit))
            .copied()
            .unwrap_or((0, 1));
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
        match &self.store {
            LimitStore::Memory(memory) => memory.tracked(),
            LimitStore::Redis(shared) => shared.local.tracked(),
        }
    }
}

fn build_limits(
    field: &str,
    specs: &[crate::config::spec_rate_limit::LimitSpec],
    max_delay: Duration,
) -> Result<LimitSet, String> {
    if specs.is_empty() {
        return Err(format!("{field}: at least one limit is required"));
    }
    let mut set = LimitSet {
        gcra: Vec::with_capacity(specs.len()),
        quotas: Vec::with_capacity(specs.len()),
    };
    for (i, l) in specs.iter().enumerate() {
        let burst = l.burst.unwrap_or(l.rate);
        let gcra = Gcra::new(l.rate, l.per, burst, max_delay)
            .ok_or_else(|| format!("{field}[{i}]: rate, per and burst do not form a limit"))?;
        set.gcra.push(gcra);
        set.quotas.push((l.rate, l.per.as_secs().max(1)));
    }
    Ok(set)
}

/// The previous generation's limiter when its spec is unchanged (its state
/// carries over), else a new one.
pub fn reuse_or_compile(
    previous: Option<&crate::policy::PolicyKind>,
    name: &str,
    spec: &RateLimitSpec,
    shared: &SharedState,
) -> Result<Arc<RateLimit>, String> {
    if let Some(crate::policy::PolicyKind::RateLimit(old)) = previous
        && old.spec == *spec
    {
        return Ok(Arc::clone(old));
    }
    RateLimit::compile_shared(name, spec, shared).map(Arc::new)
}

#[cfg(test)]
mod tests;
