//! Shared-store metrics, read from the store's counters at scrape time.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::state::redis::RedisStore;

#[derive(Debug)]
pub struct RedisCollector(pub Arc<RedisStore>);

impl Collector for RedisCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let store = &self.0;
        let up = encoder.encode_descriptor(
            "portcullis_shared_store_up",
            "1 while the shared store (Redis) answers; 0 while its circuit breaker is open",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(!store.is_down())).encode(up)?;
        let switches = encoder.encode_descriptor(
            "portcullis_shared_store_outages",
            "Times the shared store became unavailable (breaker opened)",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(store.breaker_openings()).encode(switches)?;
        let c = &store.counters;
        let mut calls = encoder.encode_descriptor(
            "portcullis_shared_store_calls",
            "Shared store calls: tried, and how the failed ones failed",
            None,
            MetricType::Counter,
        )?;
        for (result, counter) in [
            ("tried", &c.calls),
            ("error", &c.errors),
            ("timeout", &c.timeouts),
            ("refused", &c.refused),
        ] {
            ConstCounter::new(counter.load(Ordering::Relaxed))
                .encode(calls.encode_family(&[("result", result)])?)?;
        }
        Ok(())
    }
}
