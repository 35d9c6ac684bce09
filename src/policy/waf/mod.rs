//! The `waf` policy: the SecLang engine (`crate::waf`) running the OWASP
//! CRS and the user's rules over a request in the policy phases — request
//! head (phase 1), request body (2, buffered within the policy's budget),
//! response head (3) and, when enabled, response body (4); phase 5 runs
//! when the request is logged, and its findings go into the access record,
//! a security event and the metrics.
//!
//! The compiled rule set is shared by every request and kept across
//! reloads while the spec and the rule files are unchanged (loading the
//! CRS costs about a second of CPU).

pub mod counters;
pub mod finding;
mod scope;
mod sources;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::spec_waf::{OverLimit, WafSpec};
use crate::http::reject::Rejection;
use crate::policy::{BodyBudget, Decision, PolicyInput, RequestContext};
use crate::waf::engine::{Connection, Engine, Intervention, Transaction};

pub use counters::Counters;
pub use finding::Finding;

/// A compiled `waf` policy.
#[derive(Debug)]
pub struct Waf {
    pub spec: WafSpec,
    engine: Engine,
    /// Every rule file as loaded (path, modified time, length): a reload
    /// reuses the engine only while none of them changed.
    files: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
    scoped: Vec<scope::Scoped>,
    request_body: Option<BodyBudget>,
    response_body: Option<BodyBudget>,
    pub counters: Counters,
}

/// One request's transaction, kept in the request context between phases.
pub struct WafRequest {
    pub waf: Arc<Waf>,
    pub policy: Arc<str>,
    pub tx: Transaction,
    /// The intervention that refused the request, if one did.
    pub blocked: Option<Intervention>,
}

impl Waf {
    pub fn compile(spec: &WafSpec) -> Result<Self, String> {
        let sources = sources::rule_sources(spec);
        let engine = Engine::load(&sources).map_err(|e| e.to_string())?;
        let scoped = spec
            .exclusions
            .iter()
            .filter(|e| !e.routes.is_empty() || !e.paths.is_empty())
            .map(scope::Scoped::compile)
            .collect::<Result<_, _>>()?;
        let request_body = spec.request_body.inspect.then_some(BodyBudget {
            max_bytes: spec.request_body.max_bytes,
            inspect_partial: spec.request_body.over_limit == OverLimit::InspectPartial,
        });
        let response_body = spec.response_body.inspect.then_some(BodyBudget {
            max_bytes: spec.response_body.max_bytes,
            inspect_partial: true,
        });
        let counters = Counters::new(&engine);
        Ok(Self {
            spec: spec.clone(),
            files: file_stamps(spec),
            engine,
            scoped,
            request_body,
            response_body,
            counters,
        })
    }

    /// The previous generation's policy when nothing it loaded changed
    /// (counters and the parsed rule set survive), else a new one.
    pub fn reuse_or_compile(
        previous: Option<&crate::policy::PolicyKind>,
        spec: &WafSpec,
    ) -> Result<Arc<Self>, String> {
        if let Some(crate::policy::PolicyKind::Waf(waf)) = previous
            && waf.spec == *spec
            && waf.files == file_stamps(spec)
        {
            return Ok(Arc::clone(waf));
        }
        Self::compile(spec).map(Arc::new)
    }

    pub fn request_body_budget(&self) -> Option<BodyBudget> {
        self.request_body
    }

    pub fn response_body_budget(&self) -> Option<BodyBudget> {
        self.response_body
    }

    pub fn rule_count(&self) -> usize {
        self.engine.rules.rule_count()
    }

    /// Phase 1: opens the transaction (with the exclusions scoped to this
    /// route or path) and judges the request head.
    pub fn request_head(
        self: &Arc<Self>,
        name: &Arc<str>,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
    ) -> Decision {
        let mut tx = self.engine.transaction(Connection {
            remote_addr: input.client_ip.addr().to_string(),
            remote_port: 0,
            server_addr: String::new(),
            server_port: 0,
        });
        for scoped in &self.scoped {
            if scoped.applies(input.route, input.path) {
                tx.apply_ctls(&scoped.ctls);
            }
        }
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(input.headers.len() + 1);
        // HTTP/2 carries the host as `:authority`; rules expect a Host header.
        if !input.headers.contains_key(http::header::HOST) && !input.host.is_empty() {
            headers.push((b"host".to_vec(), input.host.as_bytes().to_vec()));
        }
        headers.extend(
            input
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec())),
        );
        let stop = tx.request_headers(
            input.method.as_str().as_bytes(),
            input.target.as_bytes(),
            protocol(input.version).as_bytes(),
            headers,
        );
        let mut request = Box::new(WafRequest {
            waf: Arc::clone(self),
            policy: Arc::clone(name),
            tx,
            blocked: None,
        });
        let decision = request.judge(stop);
        ctx.waf = Some(request);
        decision
    }
}

impl std::fmt::Debug for WafRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WafRequest")
            .field("policy", &self.policy)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl WafRequest {
    /// Phase 2 with what the budget let the policy see.
    pub fn request_body(&mut self, body: &[u8]) -> Decision {
        let stop = self.tx.request_body(body);
        self.judge(stop)
    }

    /// Phase 3 on the backend's answer.
    pub fn response_head(&mut self, head: &http::response::Parts) -> Decision {
        let headers = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let stop = self.tx.response_headers(
            head.status.as_u16(),
            protocol(head.version).as_bytes(),
            headers,
        );
        self.judge(stop)
    }

    /// Whether phase 4 wants this response's body (its media type).
    pub fn wants_response_body(&self) -> bool {
        self.tx.wants_response_body()
    }

    /// Phase 4.
    pub fn response_body(&mut self, body: &[u8]) -> Decision {
        let stop = self.tx.response_body(body);
        self.judge(stop)
    }

    fn judge(&mut self, stop: Option<Intervention>) -> Decision {
        let Some(stop) = stop else {
            return Decision::Continue;
        };
        let status = http::StatusCode::from_u16(stop.status).unwrap_or(http::StatusCode::FORBIDDEN);
        // An intervention with a success or redirect status would let the
        // request through unanswered; a refusal is always 4xx/5xx.
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            http::StatusCode::FORBIDDEN
        };
        let rejection = Rejection::WafBlocked {
            policy: Arc::clone(&self.policy),
            rule: Arc::from(stop.rule_id.to_string()),
            status,
            close: stop.drop,
        };
        self.blocked = Some(stop);
        Decision::Reject(rejection)
    }

    /// Phase 5 and the findings for the access record, the security event
    /// and the metrics.
    pub fn finish(
        mut self: Box<Self>,
        redaction: &crate::observe::redact::Redaction,
    ) -> Option<Finding> {
        self.tx.finish();
        let finding =
            Finding::from_transaction(&self.policy, &self.tx, self.blocked.as_ref(), redaction);
        self.waf
            .counters
            .record(&self.tx, self.blocked.as_ref().map(|b| b.rule_id));
        finding
    }
}

fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The rule files a spec loads, with what identifies their content.
fn file_stamps(spec: &WafSpec) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    let mut patterns: Vec<PathBuf> = Vec::new();
    if let Some(crs) = &spec.crs {
        let crs = std::path::Path::new(crs);
        patterns.push(crs.join("crs-setup.conf"));
        patterns.push(crs.join("crs-setup.conf.example"));
        patterns.push(crs.join("rules/*.conf"));
        patterns.push(crs.join("rules/*.data"));
    }
    patterns.extend(spec.rules.iter().map(PathBuf::from));
    let mut out = Vec::new();
    for pattern in patterns {
        let files = crate::waf::seclang::expand_include(&pattern).unwrap_or_default();
        for file in files {
            let stamp = std::fs::metadata(&file)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            out.push((file, stamp));
        }
    }
    out
}
