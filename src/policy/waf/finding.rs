//! What the WAF found in one request, for its access record and security
//! event: the matched rule ids, the anomaly scores and the messages, with
//! matched data redacted when it came from a credential.

use std::sync::Arc;

use serde::Serialize;

use crate::observe::redact::Redaction;
use crate::waf::engine::{Intervention, Transaction};

/// Messages kept per request (a PL4 scan of a hostile request can match
/// dozens of rules; the ids are all kept).
const MAX_MESSAGES: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(serialize_with = "as_str")]
    pub policy: Arc<str>,
    /// `blocked` (refused here), `detected` (matched, let through: detect
    /// mode or under the threshold).
    pub action: &'static str,
    /// The rule whose intervention refused the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<u32>,
    /// Ids of every logged rule that matched, in order.
    pub rules: Vec<u32>,
    pub inbound_score: u32,
    pub outbound_score: u32,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: u32,
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
}

fn as_str<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

/// Written instead of data matched in a credential.
const REDACTED: &str = "<redacted>";

impl Finding {
    /// `None` when no logged rule matched and nothing was refused.
    pub fn from_transaction(
        policy: &Arc<str>,
        tx: &Transaction,
        blocked: Option<&Intervention>,
        redaction: &Redaction,
    ) -> Option<Self> {
        let logged = tx.matched().iter().filter(|m| m.logged);
        if blocked.is_none() && logged.clone().next().is_none() {
            return None;
        }
        let score = |key: &str| {
            tx.tx_var(key)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(0)
        };
        let messages = logged
            .clone()
            .take(MAX_MESSAGES)
            .map(|m| Message {
                id: m.id,
                msg: m.message.clone(),
                data: if m.data.is_empty() || !redaction.variable_redacted(&m.variable) {
                    m.data.clone()
                } else {
                    REDACTED.to_owned()
                },
                severity: m.severity,
            })
            .collect();
        Some(Self {
            policy: Arc::clone(policy),
            action: if blocked.is_some() {
                "blocked"
            } else {
                "detected"
            },
            blocked_by: blocked.map(|b| b.rule_id),
            rules: logged.map(|m| m.id).collect(),
            inbound_score: score("blocking_inbound_anomaly_score"),
            outbound_score: score("blocking_outbound_anomaly_score"),
            messages,
        })
    }
}
