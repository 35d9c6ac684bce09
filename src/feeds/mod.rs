//! Threat feeds: lists of hostile prefixes from a file or an HTTPS URL,
//! parsed off the request path and swapped atomically into a lock-free
//! trie (`CidrTable`, lookups O(prefix length)). A failed, truncated or
//! refused load keeps the last good list and says so in the feed's status.
//!
//! Feeds are process-wide ([`FeedRegistry`]): a reload with an unchanged
//! feed spec keeps the loaded list and its refresh task.
pub mod crowdsec;
pub mod fetch;
pub mod http_get;
pub mod metrics;
pub mod parse;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::config::spec_feeds::{FeedFormat, FeedSpec};
use crate::net::cidr_table::CidrTable;
use crate::upstream::clock::now_ms;

/// Spamhaus asks for at most one fetch an hour.
pub const SPAMHAUS_MIN_REFRESH: Duration = Duration::from_secs(3600);

/// What the last loads did (for metrics and the admin API).
#[derive(Debug, Default)]
pub struct FeedStatus {
    pub entries: AtomicU64,
    pub loads_ok: AtomicU64,
    pub loads_failed: AtomicU64,
    /// Loads answered `304 Not Modified` (or an unchanged file).
    pub unchanged: AtomicU64,
    pub invalid_lines: AtomicU64,
    /// Microseconds the last parse + table build + swap took.
    pub last_build_us: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// One feed: its current table and status.
#[derive(Debug)]
pub struct Feed {
    pub spec: FeedSpec,
    /// Prefix → expiry in `now_ms` milliseconds (`u64::MAX`: a list entry
    /// that holds until the next list replaces it).
    table: ArcSwap<CidrTable<u64>>,
    pub status: FeedStatus,
}

impl Feed {
    pub fn new(spec: FeedSpec) -> Self {
        Self {
            spec,
            table: ArcSwap::default(),
            status: FeedStatus::default(),
        }
    }

    /// One atomic load and one trie walk (a clock read only on a hit).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.table
            .load()
            .longest_match(ip)
            .is_some_and(|expiry| *expiry == u64::MAX || *expiry > now_ms())
    }

    pub fn len(&self) -> usize {
        self.table.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The refresh interval actually used (provider minimum applied).
    pub fn refresh(&self) -> Duration {
        let spamhaus = self.spec.format == FeedFormat::SpamhausDrop
            || self
                .spec
                .url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(|h| h.ends_with("spamhaus.org")))
                .unwrap_or(false);
        if spamhaus && self.spec.url.is_some() {
            self.spec.refresh.max(SPAMHAUS_MIN_REFRESH)
        } else {
            self.spec.refresh
        }
    }

    /// Parses `text` and swaps it in; on error the current list stays.
    pub fn install(&self, text: &str) -> Result<usize, String> {
        let started = Instant::now();
        let limits = parse::Limits {
            allow_default_route: self.spec.allow_default_route,
            max_entries: self.spec.max_entries,
        };
        let parsed = match parse::parse(text, self.spec.format, limits) {
            Ok(p) => p,
            Err(e) => {
                self.fail(&e);
                return Err(e);
            }
        };
        let mut table = CidrTable::new();
        for net in &parsed.nets {
            table.insert(*net, u64::MAX);
        }
        let entries = table.len();
        self.table.store(Arc::new(table));
        let s = &self.status;
        s.entries.store(entries as u64, Ordering::Relaxed);
        s.invalid_lines
            .store(parsed.invalid as u64, Ordering::Relaxed);
        s.loads_ok.fetch_add(1, Ordering::Relaxed);
        s.last_build_us.store(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Ok(mut last) = s.last_error.lock() {
            *last = None;
        }
        if parsed.invalid > 0 {
            tracing::warn!(feed = %self.spec.name, invalid = parsed.invalid, "feed lines skipped");
        }
        tracing::info!(feed = %self.spec.name, entries, duplicates = parsed.duplicates, "feed loaded");
        Ok(entries)
    }

    /// Swaps in prefixes with their own expiry (CrowdSec decisions).
    pub fn install_entries(&self, entries: impl Iterator<Item = (ipnet::IpNet, u64)>) {
        let started = Instant::now();
        let mut table = CidrTable::new();
        for (net, expiry) in entries.take(self.spec.max_entries) {
            table.insert(net, expiry);
        }
        let entries = table.len();
        self.table.store(Arc::new(table));
        let s = &self.status;
        s.entries.store(entries as u64, Ordering::Relaxed);
        s.loads_ok.fetch_add(1, Ordering::Relaxed);
        s.last_build_us.store(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Ok(mut last) = s.last_error.lock() {
            *last = None;
        }
        tracing::info!(feed = %self.spec.name, entries, "feed decisions applied");
    }

    fn fail(&self, error: &str) {
        self.status.loads_failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(feed = %self.spec.name, %error, "feed load failed; keeping the last good list");
        if let Ok(mut last) = self.status.last_error.lock() {
            *last = Some(error.to_owned());
        }
    }
}

/// The process's feeds by name; `live` registries load and refresh them.
/// Entries are weak: the snapshots' policies own the feeds, so a feed no
/// config uses any more is dropped and its refresh task ends.
#[derive(Debug, Default)]
pub struct FeedRegistry {
    live: bool,
    feeds: Mutex<HashMap<String, Weak<Feed>>>,
}

impl FeedRegistry {
    /// A registry whose feeds are loaded and refreshed (inside the runtime).
    pub fn live() -> Self {
        Self {
            live: true,
            feeds: Mutex::default(),
        }
    }

    /// The feed for `spec`: the running one when its spec is unchanged,
    /// else a new one (started when live; the old one's task stops when
    /// the last snapshot using it is dropped).
    pub fn feed(&self, spec: &FeedSpec) -> Arc<Feed> {
        let Ok(mut feeds) = self.feeds.lock() else {
            return Arc::new(Feed::new(spec.clone()));
        };
        if let Some(feed) = feeds.get(&spec.name).and_then(Weak::upgrade)
            && feed.spec == *spec
        {
            return feed;
        }
        feeds.retain(|_, f| f.strong_count() > 0);
        let feed = Arc::new(Feed::new(spec.clone()));
        if self.live {
            tokio::spawn(fetch::refresh_loop(Arc::downgrade(&feed)));
        }
        feeds.insert(spec.name.clone(), Arc::downgrade(&feed));
        feed
    }

    /// Every feed in use (for metrics and the admin API).
    pub fn all(&self) -> Vec<Arc<Feed>> {
        self.feeds
            .lock()
            .map(|f| f.values().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text_format: FeedFormat) -> FeedSpec {
        serde_json::from_value(serde_json::json!({
            "name": "f", "file": "/dev/null", "format": text_format,
        }))
        .unwrap()
    }

    #[test]
    fn a_refused_list_keeps_the_last_good_one() {
        let feed = Feed::new(spec(FeedFormat::Plain));
        feed.install("192.0.2.0/24\n").unwrap();
        assert!(feed.contains("192.0.2.9".parse().unwrap()));
        assert!(feed.install("0.0.0.0/0\n").is_err());
        assert!(feed.contains("192.0.2.9".parse().unwrap()));
        assert!(!feed.contains("198.51.100.1".parse().unwrap()));
        assert_eq!(feed.status.loads_failed.load(Ordering::Relaxed), 1);
        assert!(feed.status.last_error.lock().unwrap().is_some());
    }

    #[test]
    fn spamhaus_urls_respect_the_hourly_minimum() {
        let mut s = spec(FeedFormat::SpamhausDrop);
        s.file = None;
        s.url = Some("https://www.spamhaus.org/drop/drop_v4.json".into());
        s.refresh = Duration::from_secs(60);
        assert_eq!(Feed::new(s).refresh(), SPAMHAUS_MIN_REFRESH);
    }

    #[test]
    fn a_million_cidrs_load_and_look_up() {
        let mut text = String::with_capacity(20_000_000);
        for i in 0..1_000_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0100_0000u32 + (i << 8));
            text.push_str(&format!("{ip}/24\n"));
        }
        let mut s = spec(FeedFormat::Netset);
        s.max_entries = 1_000_000;
        let feed = Feed::new(s);
        let started = Instant::now();
        assert_eq!(feed.install(&text).unwrap(), 1_000_000);
        eprintln!("1M CIDRs parsed and swapped in {:?}", started.elapsed());
        assert!(feed.contains("1.0.5.77".parse().unwrap()));
        assert!(!feed.contains("250.0.0.1".parse().unwrap()));
    }
}
