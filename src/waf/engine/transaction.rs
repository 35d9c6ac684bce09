//! One HTTP exchange through the WAF: the five SecLang phases as steps the
//! gateway calls in order, each returning an intervention when one is due.

use super::data::{self, Connection, Pairs, RequestData, ResponseData};
use super::state::TxState;
use super::{Engine, Intervention, MatchedRule};
use crate::waf::body;
use crate::waf::rule::{
    AllowScope, BodyProcessor, Disruptive, EngineMode, Rule, RuleSet, Step, Target,
};

pub(super) type TransformCache = std::collections::HashMap<
    (usize, usize, u32),
    Option<std::sync::Arc<[u8]>>,
    super::fast_hash::FxBuild,
>;

/// A `ctl:` removal, valid for the rest of the transaction.
#[derive(Debug, Clone)]
pub(super) enum Removal {
    ById(Vec<(u32, u32)>),
    ByTag(String),
    TargetById(Vec<(u32, u32)>, Target),
    TargetByTag(String, Target),
}

pub struct Transaction {
    /// A handle on the shared rule set (an `Arc`), owned so a transaction
    /// can live in the request context across await points.
    pub(super) engine: Engine,
    pub(super) req: RequestData,
    pub(super) resp: ResponseData,
    pub(super) state: TxState,
    pub(super) removals: Vec<Removal>,
    /// Transformed forms of request/response values, by (address, length,
    /// transformation list): values are borrowed from data that lives as
    /// long as the transaction, and the cache is cleared whenever that data
    /// is replaced. `None` = the list leaves the value unchanged.
    pub(super) transform_cache: std::cell::RefCell<TransformCache>,
    /// The rule being evaluated (for `ctl:ruleRemoveTargetByTag`).
    pub(super) current_rule: Option<std::sync::Arc<Rule>>,
    pub(super) mode: EngineMode,
    pub(super) body_access: bool,
    pub(super) force_body_variable: bool,
    matched: Vec<MatchedRule>,
    intervention: Option<Intervention>,
    allow: Option<AllowScope>,
    next_phase: u8,
}

impl Transaction {
    pub(super) fn new(engine: Engine, conn: Connection, unique_id: String) -> Self {
        let mode = engine.rules.settings.engine;
        let body_access = engine.rules.settings.request_body_access;
        Self {
            engine,
            req: RequestData::default(),
            resp: ResponseData::default(),
            state: TxState {
                conn,
                unique_id,
                started: Some(std::time::Instant::now()),
                ..TxState::default()
            },
            removals: Vec::new(),
            current_rule: None,
            transform_cache: Default::default(),
            mode,
            body_access,
            force_body_variable: false,
            matched: Vec::new(),
            intervention: None,
            allow: None,
            next_phase: 1,
        }
    }

    fn rules(&self) -> &RuleSet {
        &self.engine.rules
    }

    /// Phase 1. `target` is the request target as sent; headers in order.
    pub fn request_headers(
        &mut self,
        method: &[u8],
        target: &[u8],
        protocol: &[u8],
        headers: Pairs,
    ) -> Option<Intervention> {
        self.transform_cache.get_mut().clear();
        let (uri, path, query) = data::split_target(target);
        let filename = (self.engine.url_decode)(&path).unwrap_or(path);
        let engine = self.engine.clone();
        let req = &mut self.req;
        req.method = method.to_vec();
        req.uri_raw = target.to_vec();
        req.protocol = protocol.to_vec();
        req.line = [method, b" ", target, b" ", protocol].concat();
        req.basename = data::basename(&filename);
        req.filename = filename;
        req.uri = uri;
        req.query = query;
        req.headers = headers;
        data::parse_cookies(&req.headers, &mut req.cookies);
        let limits = engine.body_limits();
        let parsed = body::urlencoded(
            &req.query,
            engine.rules.settings.argument_separator,
            &limits,
        );
        req.args_get = parsed.args;
        req.processor = req.header("content-type").and_then(data::processor_for);
        self.run_until(1)
    }

    /// Phase 2 with the (possibly partial) request body.
    pub fn request_body(&mut self, body_bytes: &[u8]) -> Option<Intervention> {
        if self.next_phase <= 1 {
            self.run_until(1);
        }
        self.transform_cache.get_mut().clear();
        if self.body_access && !body_bytes.is_empty() && self.intervention.is_none() {
            let engine = self.engine.clone();
            let limits = engine.body_limits();
            let settings = &engine.rules.settings;
            let req = &mut self.req;
            req.body_length = body_bytes.len();
            // REQUEST_BODY holds the raw body for URL-encoded, JSON and
            // unparsed bodies and after `ctl:forceRequestBodyVariable`, as in
            // Coraza and the CRS suite: XML and multipart bodies are
            // inspected only as parsed values (element names and part
            // framing are not data).
            let raw_body = matches!(
                req.processor,
                None | Some(BodyProcessor::UrlEncoded | BodyProcessor::Json)
            );
            if raw_body || self.force_body_variable {
                req.body = body_bytes.to_vec();
            }
            let content_type = req.header("content-type").unwrap_or_default().to_vec();
            let parsed = match req.processor {
                Some(BodyProcessor::UrlEncoded) => Some(body::urlencoded(
                    body_bytes,
                    settings.argument_separator,
                    &limits,
                )),
                Some(BodyProcessor::Multipart) => {
                    Some(body::multipart(body_bytes, &content_type, &limits))
                }
                Some(BodyProcessor::Json) => Some(body::json(body_bytes, &limits)),
                Some(BodyProcessor::Xml) => Some(body::xml(body_bytes, &limits)),
                None => None,
            };
            if let Some(mut parsed) = parsed {
                req.body_error = parsed.error.take();
                req.urlencoded_error = parsed.urlencoded_error;
                req.args_post = std::mem::take(&mut parsed.args);
                req.parsed_body = Some(parsed);
            }
        } else {
            self.req.body_length = body_bytes.len();
        }
        self.run_until(2)
    }

    /// Phase 3.
    pub fn response_headers(
        &mut self,
        status: u16,
        protocol: &[u8],
        headers: Pairs,
    ) -> Option<Intervention> {
        if self.next_phase <= 2 {
            self.request_body(&[]);
        }
        self.transform_cache.get_mut().clear();
        self.resp.status = status;
        self.resp.protocol = protocol.to_vec();
        self.resp.headers = headers;
        self.run_until(3)
    }

    /// Whether the response body should be buffered for phase 4
    /// (`SecResponseBodyAccess` and a listed MIME type).
    pub fn wants_response_body(&self) -> bool {
        let settings = &self.rules().settings;
        if !settings.response_body_access {
            return false;
        }
        let ct = data::header(&self.resp.headers, "content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mime = ct
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        settings
            .response_body_mime_types
            .iter()
            .any(|m| m.as_bytes() == mime)
    }

    /// Phase 4 with the (possibly truncated) response body.
    pub fn response_body(&mut self, body_bytes: &[u8]) -> Option<Intervention> {
        if self.next_phase <= 3 {
            self.run_until(3);
        }
        self.transform_cache.get_mut().clear();
        if self.wants_response_body() {
            let limit = self.rules().settings.response_body_limit;
            self.resp.body = body_bytes[..body_bytes.len().min(limit)].to_vec();
            self.resp.body_seen = true;
        }
        self.run_until(4)
    }

    /// Phase 5 (logging); runs whatever happened before. Returns every
    /// matched rule.
    pub fn finish(&mut self) -> &[MatchedRule] {
        self.run_phase(5);
        self.next_phase = 6;
        &self.matched
    }

    /// Applies `ctl` actions (rule and target removals) before the first
    /// phase: the gateway's exclusions scoped to a route or path.
    pub fn apply_ctls(&mut self, ctls: &[crate::waf::rule::Ctl]) {
        for ctl in ctls {
            self.apply_ctl(ctl);
        }
    }

    pub fn matched(&self) -> &[MatchedRule] {
        &self.matched
    }

    pub fn intervention(&self) -> Option<&Intervention> {
        self.intervention.as_ref()
    }

    /// TX variable (key lower-cased) as text, e.g. `blocking_inbound_anomaly_score`.
    pub fn tx_var(&self, key: &str) -> Option<String> {
        self.state
            .tx_value(key.to_ascii_lowercase().as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn run_until(&mut self, phase: u8) -> Option<Intervention> {
        while self.next_phase <= phase && self.next_phase <= 4 {
            let p = self.next_phase;
            self.next_phase += 1;
            if self.intervention.is_none() {
                self.run_phase(p);
            }
        }
        self.intervention.clone()
    }

    fn rule_removed(&self, rule: &Rule) -> bool {
        self.removals.iter().any(|r| match r {
            Removal::ById(ranges) => ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&rule.id)),
            Removal::ByTag(tag) => rule.has_tag(tag),
            _ => false,
        })
    }

    fn run_phase(&mut self, phase: u8) {
        if self.mode == EngineMode::Off {
            return;
        }
        match self.allow {
            Some(AllowScope::All) => return,
            Some(AllowScope::Request) if phase <= 2 => return,
            _ => {}
        }
        if self.allow == Some(AllowScope::Phase) {
            self.allow = None;
        }
        let engine = self.engine.clone();
        let rules = &engine.rules;
        let steps = &rules.phases[usize::from(phase - 1)];
        let mut i = 0;
        while i < steps.len() {
            let Step::Rule(rule) = &steps[i] else {
                i += 1;
                continue;
            };
            i += 1;
            if self.rule_removed(rule) {
                continue;
            }
            self.current_rule = Some(rule.clone());
            if !self.evaluate_chain(rule) {
                continue;
            }
            self.record_match(rule, phase);
            if (self.intervention.is_some() || self.allow == Some(AllowScope::Phase)) && phase < 5 {
                return;
            }
            if matches!(self.allow, Some(AllowScope::All | AllowScope::Request)) && phase < 5 {
                return;
            }
            if let Some(marker) = &rule.actions.skip_after {
                i = rules
                    .skip_after_index(usize::from(phase - 1), i, marker)
                    .unwrap_or(steps.len());
            } else if rule.actions.skip > 0 {
                let mut left = rule.actions.skip;
                while left > 0 && i < steps.len() {
                    if matches!(steps[i], Step::Rule(_)) {
                        left -= 1;
                    }
                    i += 1;
                }
            }
        }
    }

    fn record_match(&mut self, rule: &Rule, phase: u8) {
        let mut disruptive = rule.actions.disruptive.unwrap_or(Disruptive::Pass);
        let mut status = rule.actions.status;
        if disruptive == Disruptive::Block {
            let (d, s) = self.rules().block_defaults[usize::from(phase - 1)];
            disruptive = d;
            status = status.or(s);
        }
        let message = rule
            .actions
            .msg
            .as_ref()
            .map(|m| log_escape(&self.expand(m), MAX_LOGGED_BYTES))
            .unwrap_or_default();
        let data = rule
            .actions
            .logdata
            .as_ref()
            .map(|m| log_escape(&self.expand(m), MAX_LOGGED_BYTES))
            .unwrap_or_default();
        if let Some(sev) = rule.actions.severity {
            self.state.highest_severity =
                Some(self.state.highest_severity.map_or(sev, |h| h.min(sev)));
        }
        let blocking = matches!(disruptive, Disruptive::Deny | Disruptive::Drop);
        let variable = self
            .state
            .matched_var
            .as_ref()
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        self.matched.push(MatchedRule {
            id: rule.id,
            phase,
            message,
            data,
            variable,
            severity: rule.actions.severity,
            logged: rule.logs(),
            disruptive: blocking,
        });
        match disruptive {
            Disruptive::Deny | Disruptive::Drop
                if self.mode == EngineMode::On && self.intervention.is_none() =>
            {
                self.intervention = Some(Intervention {
                    rule_id: rule.id,
                    status: status.unwrap_or(403),
                    drop: disruptive == Disruptive::Drop,
                    phase,
                });
            }
            Disruptive::Allow(scope) if self.mode == EngineMode::On => self.allow = Some(scope),
            _ => {}
        }
    }
}

/// ModSecurity logs at most this much of `msg`/`logdata`.
const MAX_LOGGED_BYTES: usize = 512;

/// Printable ASCII as is, `"` and `\` escaped, every other byte as `\xHH`
/// (as ModSecurity writes log data), cut at `limit` input bytes: a log line
/// never carries raw control characters or invalid UTF-8.
pub fn log_escape(bytes: &[u8], limit: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(limit) + 8);
    for &b in bytes.iter().take(limit) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}
