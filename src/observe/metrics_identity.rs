//! Identity metrics: authentication and authorization decisions by policy
//! and result, and the calls identity policies make to identity providers
//! (JWKS, discovery, introspection) by result, with their latency.
//!
//! Labels stay bounded: policy names come from the configuration, the
//! result is a `&'static str` reason code from the gateway's own code (never
//! text from a token or an answer), the fetch kind is one of three.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Fetch latency buckets in seconds: 1 ms to 10 s (identity providers are
/// remote and sometimes slow; the request-path buckets start lower).
const FETCH_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// What an identity policy fetched.
pub mod fetch {
    pub const JWKS: &str = "jwks";
    pub const DISCOVERY: &str = "discovery";
    pub const INTROSPECTION: &str = "introspection";
}

/// Decision results that are not reason codes.
pub mod result {
    /// Authenticated by this policy, or allowed by an `authz` policy.
    pub const OK: &str = "ok";
    /// No credentials and the policy let the request through (`optional`),
    /// or an earlier policy had authenticated it already.
    pub const ANONYMOUS: &str = "anonymous";
    /// The identity service was down and the policy failed open.
    pub const FAILED_OPEN: &str = "failed_open";
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    policy: String,
    kind: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    policy: String,
    fetch: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchKindLabels {
    policy: String,
    fetch: &'static str,
}

fn fetch_histogram() -> Histogram {
    Histogram::new(FETCH_BUCKETS)
}

type FetchHistograms = Family<FetchKindLabels, Histogram, fn() -> Histogram>;

/// The identity families, created once per process with the others.
#[derive(Debug, Clone)]
pub struct IdentityFamilies {
    decisions: Family<DecisionLabels, Counter>,
    fetches: Family<FetchLabels, Counter>,
    fetch_duration: FetchHistograms,
}

impl IdentityFamilies {
    pub fn register(registry: &mut Registry) -> Self {
        let f = Self::unregistered();
        registry.register(
            "portcullis_auth_decisions",
            "Authentication and authorization decisions, by policy, policy kind and result (ok, anonymous, failed_open or the refusal reason)",
            f.decisions.clone(),
        );
        registry.register(
            "portcullis_identity_fetches",
            "Calls to identity providers (jwks, discovery, introspection), by policy and result",
            f.fetches.clone(),
        );
        registry.register(
            "portcullis_identity_fetch_duration_seconds",
            "Latency of calls to identity providers, by policy and fetch kind",
            f.fetch_duration.clone(),
        );
        f
    }

    fn unregistered() -> Self {
        Self {
            decisions: Family::default(),
            fetches: Family::default(),
            fetch_duration: Family::new_with_constructor(fetch_histogram),
        }
    }

    /// Decision counters of one policy of `kind` (`jwt`, `authz`, ...).
    pub fn decisions(&self, policy: &str, kind: &'static str) -> DecisionMetrics {
        let labels = |result| DecisionLabels {
            policy: policy.to_owned(),
            kind,
            result,
        };
        // One statement each: a family's read guard lives to the end of its
        // statement, and creating the next series needs the write lock.
        let ok = self.decisions.get_or_create(&labels(result::OK)).clone();
        let anonymous = self
            .decisions
            .get_or_create(&labels(result::ANONYMOUS))
            .clone();
        DecisionMetrics {
            ok,
            anonymous,
            others: Arc::default(),
            family: self.decisions.clone(),
            policy: policy.to_owned(),
            kind,
        }
    }

    /// Fetch counters of one policy.
    pub fn fetches(&self, policy: &str) -> FetchMetrics {
        FetchMetrics {
            families: self.clone(),
            policy: policy.to_owned(),
        }
    }
}

/// One policy's decision counters. `ok` and `anonymous` are resolved once,
/// so the usual request does one atomic increment; refusal reasons are
/// resolved on first use and kept (a short list: reasons are static codes).
#[derive(Debug, Clone)]
pub struct DecisionMetrics {
    ok: Counter,
    anonymous: Counter,
    others: Arc<RwLock<Vec<(&'static str, Counter)>>>,
    family: Family<DecisionLabels, Counter>,
    policy: String,
    kind: &'static str,
}

impl DecisionMetrics {
    pub fn record(&self, result: &'static str) {
        match result {
            result::OK => {
                self.ok.inc();
            }
            result::ANONYMOUS => {
                self.anonymous.inc();
            }
            other => {
                self.other(other).inc();
            }
        }
    }

    fn other(&self, result: &'static str) -> Counter {
        if let Ok(known) = self.others.read()
            && let Some((_, c)) = known.iter().find(|(r, _)| *r == result)
        {
            return c.clone();
        }
        let counter = self
            .family
            .get_or_create(&DecisionLabels {
                policy: self.policy.clone(),
                kind: self.kind,
                result,
            })
            .clone();
        if let Ok(mut known) = self.others.write()
            && !known.iter().any(|(r, _)| *r == result)
        {
            known.push((result, counter.clone()));
        }
        counter
    }
}

/// One policy's fetch counters and latency histograms.
#[derive(Debug, Clone)]
pub struct FetchMetrics {
    families: IdentityFamilies,
    policy: String,
}

impl FetchMetrics {
    /// Handles attached to no registry (a policy compiled outside a
    /// running gateway: `validate`, benches, unit tests).
    pub fn detached() -> Self {
        IdentityFamilies::unregistered().fetches("")
    }

    /// Records one call: what was fetched, how it ended, how long it took.
    pub fn observe(&self, fetch: &'static str, result: &'static str, took: Duration) {
        self.families
            .fetches
            .get_or_create(&FetchLabels {
                policy: self.policy.clone(),
                fetch,
                result,
            })
            .inc();
        self.families
            .fetch_duration
            .get_or_create(&FetchKindLabels {
                policy: self.policy.clone(),
                fetch,
            })
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn decisions_and_fetches_are_labelled_by_policy_and_result() {
        let mut registry = Registry::default();
        let f = IdentityFamilies::register(&mut registry);
        let d = f.decisions("bearer", "jwt");
        d.record(result::OK);
        d.record(result::OK);
        d.record("token_expired");
        d.record("token_expired");
        d.record("bad_signature");
        let fetches = f.fetches("bearer");
        fetches.observe(fetch::JWKS, "ok", Duration::from_millis(3));
        fetches.observe(fetch::JWKS, "unreachable", Duration::from_millis(30));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            r#"portcullis_auth_decisions_total{policy="bearer",kind="jwt",result="ok"} 2"#,
            r#"portcullis_auth_decisions_total{policy="bearer",kind="jwt",result="anonymous"} 0"#,
            r#"portcullis_auth_decisions_total{policy="bearer",kind="jwt",result="token_expired"} 2"#,
            r#"portcullis_auth_decisions_total{policy="bearer",kind="jwt",result="bad_signature"} 1"#,
            r#"portcullis_identity_fetches_total{policy="bearer",fetch="jwks",result="ok"} 1"#,
            r#"portcullis_identity_fetches_total{policy="bearer",fetch="jwks",result="unreachable"} 1"#,
            r#"portcullis_identity_fetch_duration_seconds_count{policy="bearer",fetch="jwks"} 2"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
