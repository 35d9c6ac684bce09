//! The `authz` policy's configuration (pure data; compiled in
//! `policy::authz`): ordered rules, first match wins, default deny.

use serde::{Deserialize, Serialize};

use crate::config::spec::{FilterAction, ValueMatchSpec};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzSpec {
    pub rules: Vec<AuthzRuleSpec>,
    /// What happens when no rule matches: `deny` (the default) or `allow`.
    #[serde(default = "default_deny")]
    pub default: FilterAction,
}

fn default_deny() -> FilterAction {
    FilterAction::Deny
}

/// One rule: every condition set must hold for it to match.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzRuleSpec {
    pub name: String,
    /// `allow` or `deny` when the rule matches.
    pub action: FilterAction,
    /// `true`: a principal is required; `false`: only anonymous requests.
    #[serde(default)]
    pub authenticated: Option<bool>,
    /// The principal has any of these roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The principal has all of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The principal's subject is one of these.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Authenticated by one of these methods (`jwt`, `api_key`, `basic`, ...).
    #[serde(default)]
    pub auth_methods: Vec<String>,
    /// Claim conditions, all of which must hold.
    #[serde(default)]
    pub claims: Vec<ClaimMatchSpec>,
    /// Request methods, any of which matches.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path prefixes (segment boundaries), any of which matches.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Hosts, any of which matches (exact, lower-case).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Header conditions, all of which must hold.
    #[serde(default)]
    pub headers: Vec<ValueMatchSpec>,
    /// Client CIDRs, any of which matches.
    #[serde(default)]
    pub client_cidrs: Vec<String>,
    /// A CEL expression that must evaluate to `true` (an evaluation error
    /// or a non-boolean result means the rule does not match; for an
    /// `allow` rule the request is then denied).
    #[serde(default)]
    pub cel: Option<String>,
}

/// A condition on one claim (by path). Exactly one of the comparisons.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMatchSpec {
    pub claim: String,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub one_of: Vec<serde_json::Value>,
    /// The claim (a list or a string) contains this value.
    #[serde(default)]
    pub contains: Option<serde_json::Value>,
    /// The claim exists (and is not null).
    #[serde(default)]
    pub present: Option<bool>,
}
