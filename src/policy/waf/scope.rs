//! Exclusions that apply only to some routes or paths: compiled to the
//! engine's `ctl` removals and applied to a matching request's transaction
//! before its first phase (nothing is evaluated for other requests).

use crate::config::spec_waf::WafExclusion;
use crate::waf::rule::Ctl;
use crate::waf::rule::actions::parse_ctl;

#[derive(Debug)]
pub(super) struct Scoped {
    routes: Vec<String>,
    paths: Vec<String>,
    pub ctls: Vec<Ctl>,
}

impl Scoped {
    pub fn compile(ex: &WafExclusion) -> Result<Self, String> {
        let ctls = super::sources::scoped_ctls(ex)?
            .iter()
            .map(|text| parse_ctl(text))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            routes: ex.routes.clone(),
            paths: ex.paths.clone(),
            ctls,
        })
    }

    /// Both scopes hold (an empty one holds everywhere). Paths match by
    /// whole segments: `/login` covers `/login` and `/login/x`, not
    /// `/loginx`.
    pub fn applies(&self, route: &str, path: &str) -> bool {
        let route_ok = self.routes.is_empty() || self.routes.iter().any(|r| r == route);
        let path_ok = self.paths.is_empty() || self.paths.iter().any(|p| under(path, p));
        route_ok && path_ok
    }
}

fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_by_route_and_segment_prefix() {
        let s = Scoped {
            routes: vec!["app".into()],
            paths: vec!["/login".into()],
            ctls: Vec::new(),
        };
        assert!(s.applies("app", "/login"));
        assert!(s.applies("app", "/login/sso"));
        assert!(!s.applies("app", "/loginx"));
        assert!(!s.applies("other", "/login"));
        let anywhere = Scoped {
            routes: Vec::new(),
            paths: vec!["/api/".into()],
            ctls: Vec::new(),
        };
        assert!(anywhere.applies("x", "/api/v1"));
        assert!(!anywhere.applies("x", "/apix"));
    }

    #[test]
    fn compiles_removals() {
        let ex = WafExclusion {
            rule_ids: vec![crate::config::spec_waf::RuleIdSpec::Id(942100)],
            tags: vec!["attack-xss".into()],
            target: Some("ARGS:password".into()),
            routes: vec!["app".into()],
            paths: Vec::new(),
        };
        let s = Scoped::compile(&ex).unwrap();
        assert_eq!(s.ctls.len(), 2);
        assert!(matches!(s.ctls[0], Ctl::RuleRemoveTargetById(..)));
        assert!(matches!(s.ctls[1], Ctl::RuleRemoveTargetByTag(..)));
    }
}
