//! Per-transaction mutable state: TX and the other named collections, the
//! MATCHED_VAR family, and connection facts.

use super::collect::{Value, borrowed, number, owned};
use super::data::Connection;
use crate::waf::rule::{Collection, Selector, Target};
use std::collections::HashMap;

/// Keys are lower-cased (SecLang collection keys are case-insensitive).
pub type Vars = HashMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Default)]
pub struct TxState {
    pub tx: Vars,
    /// IP, GLOBAL, SESSION, USER, RESOURCE: per transaction here (no
    /// persistent storage), so `initcol` collections start empty.
    pub other: HashMap<Collection, Vars>,
    pub env: Vars,
    pub matched_var: Option<(String, Vec<u8>)>,
    pub matched_vars: Vec<(String, Vec<u8>)>,
    pub unique_id: String,
    pub conn: Connection,
    pub rule_id: u32,
    pub rule_severity: Option<u8>,
    pub highest_severity: Option<u8>,
    pub started: Option<std::time::Instant>,
}

impl TxState {
    pub fn vars_mut(&mut self, collection: &str) -> &mut Vars {
        match collection {
            "tx" => &mut self.tx,
            other => {
                let c = Collection::from_name(other).unwrap_or(Collection::Tx);
                self.other.entry(c).or_default()
            }
        }
    }

    fn vars(&self, c: Collection) -> Option<&Vars> {
        match c {
            Collection::Tx => Some(&self.tx),
            Collection::Env => Some(&self.env),
            _ => self.other.get(&c),
        }
    }

    /// Values are borrowed from the state: the engine drops them before any
    /// action changes it (and never caches their transformed forms by address).
    pub fn collect<'a>(&'a self, target: &Target, out: &mut Vec<Value<'a>>) {
        use Collection as C;
        let c = target.collection;
        match c {
            C::Tx | C::Ip | C::Global | C::Session | C::User | C::Resource | C::Env => {
                let Some(vars) = self.vars(c) else { return };
                match &target.selector {
                    // setvar stores keys lower-cased, as the selector is: one lookup.
                    Selector::Key(k) if c != C::Env => {
                        if let Some((k, v)) = vars.get_key_value(k.as_bytes()) {
                            out.push(borrowed(c, k, v));
                        }
                    }
                    _ => {
                        for (k, v) in vars {
                            if target.selects(k) {
                                out.push(borrowed(c, k, v));
                            }
                        }
                    }
                }
            }
            C::MatchedVar => {
                if let Some((_, v)) = &self.matched_var {
                    out.push(borrowed(c, b"", v))
                }
            }
            C::MatchedVarName => {
                if let Some((n, _)) = &self.matched_var {
                    out.push(borrowed(c, b"", n.as_bytes()))
                }
            }
            C::MatchedVars => {
                for (n, v) in &self.matched_vars {
                    if target.selects(n.as_bytes()) {
                        out.push(borrowed(c, n.as_bytes(), v))
                    }
                }
            }
            C::MatchedVarsNames => {
                for (n, _) in &self.matched_vars {
                    if target.selects(n.as_bytes()) {
                        out.push(borrowed(c, n.as_bytes(), n.as_bytes()))
                    }
                }
            }
            C::UniqueId => out.push(owned(c, b"", self.unique_id.clone().into_bytes())),
            C::RemoteAddr | C::RemoteHost => {
                out.push(owned(c, b"", self.conn.remote_addr.clone().into_bytes()))
            }
            C::RemotePort => out.push(number(c, usize::from(self.conn.remote_port))),
            C::ServerAddr => out.push(owned(c, b"", self.conn.server_addr.clone().into_bytes())),
            C::ServerPort => out.push(number(c, usize::from(self.conn.server_port))),
            C::HighestSeverity => {
                out.push(number(c, usize::from(self.highest_severity.unwrap_or(255))))
            }
            C::Rule => {
                let entries: [(&[u8], String); 2] = [
                    (b"id", self.rule_id.to_string()),
                    (
                        b"severity",
                        self.rule_severity
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                    ),
                ];
                for (k, v) in entries {
                    if target.selects(k) {
                        out.push(owned(c, k, v.into_bytes()))
                    }
                }
            }
            C::Duration => {
                let micros = self
                    .started
                    .map(|s| s.elapsed().as_micros())
                    .unwrap_or_default();
                out.push(owned(c, b"", micros.to_string().into_bytes()))
            }
            C::TimeEpoch | C::Time => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                out.push(owned(c, b"", secs.to_string().into_bytes()))
            }
            // Not tracked by the gateway: present but empty, like an unset variable.
            _ => {}
        }
    }

    /// The current value of `tx.key` (key lower-cased), if set.
    pub fn tx_value(&self, key: &[u8]) -> Option<&[u8]> {
        self.tx.get(key).map(Vec::as_slice)
    }

    /// Stores capture groups as TX.0–TX.9.
    pub fn set_captures(&mut self, captures: &crate::waf::operator::Captures) {
        for (i, group) in captures.iter().enumerate() {
            let key = [b'0' + i as u8];
            match group {
                Some(v) => match self.tx.get_mut(&key[..]) {
                    Some(slot) => {
                        slot.clear();
                        slot.extend_from_slice(v);
                    }
                    None => {
                        self.tx.insert(key.to_vec(), v.clone());
                    }
                },
                None => {
                    self.tx.remove(&key[..]);
                }
            }
        }
    }
}
