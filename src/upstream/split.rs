//! Traffic split of a route between backends: weighted choice (canary
//! 90/10), and a canary backend chosen by a request header or cookie.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, header};

use crate::config::spec::RouteSpec;
use crate::upstream::backend::Backend;

/// Generic over the backend handle so `validate` can run the same rules
/// on names alone (`B = ()`).
#[derive(Debug)]
pub struct BackendSplit<B = Arc<Backend>> {
    /// Backends with the running sum of weights up to and including each.
    choices: Vec<(B, u64)>,
    total: u64,
    canary: Option<Canary<B>>,
}

#[derive(Debug)]
struct Canary<B> {
    backend: B,
    header: Option<(HeaderName, String)>,
    cookie: Option<(String, String)>,
}

impl<B> BackendSplit<B> {
    /// `lookup` resolves backend names. Errors are `(field relative to the
    /// route, message)`; the same function backs `validate`.
    pub fn compile(
        route: &RouteSpec,
        lookup: impl Fn(&str) -> Option<B>,
    ) -> Result<Self, (String, String)> {
        let mut choices = Vec::new();
        let mut total: u64 = 0;
        if route.backends.is_empty() {
            if let Some(name) = &route.backend {
                let b = lookup(name)
                    .ok_or(("backend".to_owned(), format!("unknown backend {name:?}")))?;
                total = 1;
                choices.push((b, 1));
            }
        } else {
            if route.backend.is_some() {
                return Err((
                    "backends".into(),
                    "set backend or backends, not both".into(),
                ));
            }
            for (i, w) in route.backends.iter().enumerate() {
                let b = lookup(&w.name).ok_or((
                    format!("backends[{i}].name"),
                    format!("unknown backend {:?}", w.name),
                ))?;
                if w.weight > 10_000 {
                    return Err((
                        format!("backends[{i}].weight"),
                        "must be between 0 and 10000".into(),
                    ));
                }
                total += u64::from(w.weight);
                choices.push((b, total));
            }
            if total == 0 {
                return Err((
                    "backends".into(),
                    "the weights sum to 0: no request could be served".into(),
                ));
            }
        }
        let canary = match &route.canary {
            None => None,
            Some(spec) => {
                if choices.is_empty() {
                    return Err(("canary".into(), "a canary needs backend or backends".into()));
                }
                let backend = lookup(&spec.backend).ok_or((
                    "canary.backend".to_owned(),
                    format!("unknown backend {:?}", spec.backend),
                ))?;
                let header = match &spec.header {
                    Some(h) => Some((
                        HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
                            (
                                "canary.header.name".to_owned(),
                                format!("{:?} is not a valid header name", h.name),
                            )
                        })?,
                        h.value.clone(),
                    )),
                    None => None,
                };
                let cookie = spec
                    .cookie
                    .as_ref()
                    .map(|c| (c.name.clone(), c.value.clone()));
                if header.is_none() && cookie.is_none() {
                    return Err(("canary".into(), "set header or cookie".into()));
                }
                Some(Canary {
                    backend,
                    header,
                    cookie,
                })
            }
        };
        Ok(Self {
            choices,
            total,
            canary,
        })
    }

    /// The backend for a request with `headers`.
    pub fn pick(&self, headers: &HeaderMap) -> Option<&B> {
        if let Some(canary) = &self.canary
            && canary.selects(headers)
        {
            return Some(&canary.backend);
        }
        if self.choices.len() == 1 {
            return self.choices.first().map(|(b, _)| b);
        }
        let r = fastrand::u64(..self.total.max(1));
        self.choices
            .iter()
            .find(|(_, upto)| r < *upto)
            .map(|(b, _)| b)
    }
}

impl<B> Canary<B> {
    fn selects(&self, headers: &HeaderMap) -> bool {
        if let Some((name, value)) = &self.header
            && headers
                .get_all(name)
                .iter()
                .any(|v| v.as_bytes() == value.as_bytes())
        {
            return true;
        }
        let Some((name, value)) = &self.cookie else {
            return false;
        };
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(k, v)| k == name && v == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(json: serde_json::Value) -> RouteSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn weights_decide_and_canary_wins() {
        let r = route(serde_json::json!({"name": "r",
            "backends": [{"name": "a", "weight": 3}, {"name": "b", "weight": 1}, {"name": "z", "weight": 0}],
            "canary": {"backend": "c", "cookie": {"name": "beta", "value": "1"}}}));
        let split = BackendSplit::compile(&r, |n| Some(n.to_owned())).unwrap();
        let mut counts = std::collections::HashMap::new();
        let none = HeaderMap::new();
        for _ in 0..4000 {
            *counts
                .entry(split.pick(&none).unwrap().clone())
                .or_insert(0) += 1;
        }
        assert!(
            !counts.contains_key("z") && !counts.contains_key("c"),
            "{counts:?}"
        );
        let a = counts["a"];
        assert!((2700..3300).contains(&a), "{counts:?}");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "x=1; beta=1".parse().unwrap());
        assert_eq!(split.pick(&h).unwrap(), "c");
        h.insert(header::COOKIE, "beta=10".parse().unwrap());
        assert_ne!(split.pick(&h).unwrap(), "c");
    }

    #[test]
    fn rule_errors() {
        let err = |json| {
            BackendSplit::compile(&route(json), |n| (n != "nope").then_some(()))
                .unwrap_err()
                .0
        };
        assert_eq!(
            err(serde_json::json!({"name": "r", "backends": [{"name": "a", "weight": 0}]})),
            "backends"
        );
        assert_eq!(
            err(serde_json::json!({"name": "r", "backends": [{"name": "nope"}]})),
            "backends[0].name"
        );
        assert_eq!(
            err(serde_json::json!({"name": "r", "backends": [{"name": "a", "weight": 10001}]})),
            "backends[0].weight"
        );
        assert_eq!(
            err(serde_json::json!({"name": "r", "backend": "a", "canary": {"backend": "a"}})),
            "canary"
        );
        assert_eq!(
            err(
                serde_json::json!({"name": "r", "canary": {"backend": "a", "header": {"name": "x"}}})
            ),
            "canary"
        );
    }
}
