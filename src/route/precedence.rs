//! Route precedence: the sort key that orders candidate routes, most specific
//! first, following the Gateway API's HTTPRoute rules.
//!
//! Keys are compared ascending, so every "more specific" variant or value
//! sorts first; `Reverse` flips the "longer/more wins" numbers.

use std::cmp::Reverse;

use crate::route::path::PathMatcher;

/// Rule 1: exact host > wildcard host (longer suffix first) > any host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostRank {
    Exact,
    Wildcard(Reverse<usize>),
    Any,
}

/// Rule 2: exact > regex (longer pattern first) > prefix (longer prefix
/// first) > no path condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathRank {
    Exact,
    Regex(Reverse<usize>),
    Prefix(Reverse<usize>),
    None,
}

impl PathRank {
    pub fn of(path: Option<&PathMatcher>) -> Self {
        match path {
            Some(PathMatcher::Exact(..)) => Self::Exact,
            Some(PathMatcher::Regex(_, len)) => Self::Regex(Reverse(*len)),
            Some(PathMatcher::Prefix(prefix, _)) => Self::Prefix(Reverse(prefix.len())),
            None => Self::None,
        }
    }
}

/// Rules 2 to 5 for one route; the field order is the rule order, and the
/// derived `Ord` compares fields in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteRank {
    pub path: PathRank,
    /// Rule 3: a method condition first (`false` sorts before `true`).
    pub no_method: bool,
    /// Rule 4: more header conditions, then more query conditions.
    pub headers: Reverse<usize>,
    pub query: Reverse<usize>,
    /// Rule 5: configuration order; unique, so no two routes tie.
    pub order: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(path: PathRank, method: bool, headers: usize, query: usize, order: usize) -> RouteRank {
        RouteRank {
            path,
            no_method: !method,
            headers: Reverse(headers),
            query: Reverse(query),
            order,
        }
    }

    #[test]
    fn host_ranks_order() {
        let mut ranks = [
            HostRank::Any,
            HostRank::Wildcard(Reverse(5)),
            HostRank::Exact,
            HostRank::Wildcard(Reverse(12)),
        ];
        ranks.sort();
        assert_eq!(
            ranks,
            [
                HostRank::Exact,
                HostRank::Wildcard(Reverse(12)),
                HostRank::Wildcard(Reverse(5)),
                HostRank::Any
            ]
        );
    }

    #[test]
    fn route_ranks_follow_rule_order() {
        let regex = PathRank::Regex(Reverse(3));
        let prefix = PathRank::Prefix(Reverse(9));
        // Path kind beats everything after it.
        assert!(rank(PathRank::Exact, false, 0, 0, 9) < rank(regex, true, 5, 5, 0));
        assert!(rank(regex, false, 0, 0, 9) < rank(prefix, true, 5, 5, 0));
        assert!(rank(prefix, false, 0, 0, 9) < rank(PathRank::None, true, 5, 5, 0));
        assert!(PathRank::Prefix(Reverse(5)) < PathRank::Prefix(Reverse(4)));
        assert!(PathRank::Regex(Reverse(5)) < PathRank::Regex(Reverse(4)));
        // Then method, headers, query, order.
        assert!(rank(prefix, true, 0, 0, 9) < rank(prefix, false, 5, 5, 0));
        assert!(rank(prefix, true, 2, 0, 9) < rank(prefix, true, 1, 5, 0));
        assert!(rank(prefix, true, 2, 1, 9) < rank(prefix, true, 2, 0, 0));
        assert!(rank(prefix, true, 2, 1, 0) < rank(prefix, true, 2, 1, 1));
    }
}
