//! Feed metrics, read from each feed's status at scrape time.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::feeds::FeedRegistry;

#[derive(Debug)]
pub struct FeedCollector(pub Arc<FeedRegistry>);

impl Collector for FeedCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut feeds = self.0.all();
        feeds.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        let gauges = [
            (
                "portcullis_feed_entries",
                "Prefixes in the feed's current list",
            ),
            (
                "portcullis_feed_invalid_lines",
                "Lines skipped in the last accepted list",
            ),
            (
                "portcullis_feed_build_microseconds",
                "Parse, build and swap time of the last accepted list",
            ),
            (
                "portcullis_feed_failing",
                "1 when the last load failed (the previous list is kept)",
            ),
        ];
        for (i, (name, help)) in gauges.iter().enumerate() {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for feed in &feeds {
                let s = &feed.status;
                let value = match i {
                    0 => s.entries.load(Ordering::Relaxed),
                    1 => s.invalid_lines.load(Ordering::Relaxed),
                    2 => s.last_build_us.load(Ordering::Relaxed),
                    _ => u64::from(s.last_error.lock().map(|e| e.is_some()).unwrap_or(false)),
                };
                ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
                    .encode(family.encode_family(&[("feed", feed.spec.name.as_str())])?)?;
            }
        }
        let mut loads = encoder.encode_descriptor(
            "portcullis_feed_loads",
            "Feed loads by result: ok, failed (list kept), unchanged (304 / same file)",
            None,
            MetricType::Counter,
        )?;
        for feed in &feeds {
            let s = &feed.status;
            for (result, counter) in [
                ("ok", &s.loads_ok),
                ("failed", &s.loads_failed),
                ("unchanged", &s.unchanged),
            ] {
                ConstCounter::new(counter.load(Ordering::Relaxed)).encode(
                    loads
                        .encode_family(&[("feed", feed.spec.name.as_str()), ("result", result)])?,
                )?;
            }
        }
        Ok(())
    }
}
