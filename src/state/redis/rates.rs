//! Rate-limit state on Redis: every limit of a set decided by one Lua
//! script (`EVALSHA`, loaded again on `NOSCRIPT` by `redis::Script`) on the
//! server's clock (`TIME`), so replica clocks do not matter and a request
//! is one round trip. Nothing is charged when any limit rejects.
//!
//! Keys: `<prefix>rl:{<key hash>}:<policy>:<set>:<limit>`. The key hash is
//! HMAC-keyed (see `key_hash`), so Redis never holds client material; the
//! braces keep a client's keys in one Cluster slot. Values are TATs in µs
//! with a TTL that ends when the key is back at rest.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use redis::Script;

use crate::policy::rate_limit::gcra::Gcra;
use crate::state::StoreError;
use crate::state::rate::{RateStore, RateVerdict};
use crate::state::redis::RedisStore;

static DECIDE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));
static REFUND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("refund.lua")));

const US: u64 = 1_000;

/// One policy's state on the shared store.
#[derive(Debug)]
pub struct RedisRates {
    store: Arc<RedisStore>,
    /// `<prefix>rl:`; the policy name follows the key hash.
    prefix: String,
    policy: String,
}

impl RedisRates {
    pub fn new(store: Arc<RedisStore>, policy: &str) -> Self {
        let prefix = store.key("rl:");
        Self {
            store,
            prefix,
            policy: policy.to_owned(),
        }
    }

    fn keys(&self, set: usize, key: u64, count: usize) -> impl Iterator<Item = String> + '_ {
        (0..count).map(move |i| format!("{}{{{key:016x}}}:{}:{set}:{i}", self.prefix, self.policy))
    }
}

/// A limit's numbers in microseconds (the script's unit: µs since the
/// epoch stay exact in a Lua double). At least 1 µs per request.
fn micros(gcra: &Gcra) -> (u64, u64, u64) {
    let (interval, tolerance, max_delay) = gcra.params();
    (
        (interval / US).max(1),
        (tolerance / US).max(1),
        max_delay / US,
    )
}

impl RateStore for RedisRates {
    fn decide(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
        _now_ns: u64,
    ) -> impl Future<Output = Result<RateVerdict, StoreError>> + Send {
        let mut invocation = DECIDE.prepare_invoke();
        for (k, gcra) in self.keys(set, key, limits.len()).zip(limits) {
            let (interval, tolerance, max_delay) = micros(gcra);
            invocation
                .key(k)
                .arg(interval)
                .arg(tolerance)
                .arg(max_delay);
        }
        async move {
            let reply: (i64, i64, i64) = self
                .store
                .call(|mut con| async move { invocation.invoke_async(&mut con).await })
                .await?;
            let amount = u64::try_from(reply.2).unwrap_or(0).saturating_mul(US);
            Ok(match reply {
                (1, _, _) => RateVerdict::Allow { delay_ns: amount },
                (_, limit, _) => RateVerdict::Deny {
                    limit: usize::try_from(limit).unwrap_or(0),
                    retry_after_ns: amount,
                },
            })
        }
    }

    fn refund(
        &self,
        set: usize,
        key: u64,
        limits: &[Gcra],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut invocation = REFUND.prepare_invoke();
        for (k, gcra) in self.keys(set, key, limits.len()).zip(limits) {
            invocation.key(k).arg(micros(gcra).0);
        }
        async move {
            let _: i64 = self
                .store
                .call(|mut con| async move { invocation.invoke_async(&mut con).await })
                .await?;
            Ok(())
        }
    }
}
