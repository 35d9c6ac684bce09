//! `threat_feed`: refuses (or tags) clients listed in one of its feeds.
//! A lookup is one atomic load and one trie walk per feed; no lock.

use std::sync::Arc;

use crate::config::spec_feeds::{FeedAction, ThreatFeedPolicySpec};
use crate::feeds::{Feed, FeedRegistry};
use crate::listener::client_ip::ClientIp;

#[derive(Debug)]
pub struct ThreatFeed {
    pub spec: ThreatFeedPolicySpec,
    feeds: Vec<Arc<Feed>>,
}

impl ThreatFeed {
    /// `feeds` holds the named feeds' specs (validated to exist).
    pub fn compile(
        spec: &ThreatFeedPolicySpec,
        feeds: &[crate::config::spec_feeds::FeedSpec],
        registry: &FeedRegistry,
    ) -> Result<Self, String> {
        let mut out = Vec::with_capacity(spec.feeds.len());
        for name in &spec.feeds {
            let feed = feeds
                .iter()
                .find(|f| f.name == *name)
                .ok_or_else(|| format!("feeds: unknown feed {name:?}"))?;
            out.push(registry.feed(feed));
        }
        Ok(Self {
            spec: spec.clone(),
            feeds: out,
        })
    }

    /// The first feed listing `ip`, if any.
    pub fn check(&self, ip: ClientIp) -> Option<&str> {
        self.feeds
            .iter()
            .find(|f| f.contains(ip.addr()))
            .map(|f| f.spec.name.as_str())
    }

    pub fn action(&self) -> FeedAction {
        self.spec.action
    }
}
