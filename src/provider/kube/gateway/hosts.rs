//! Hostname intersection of an HTTPRoute and a listener (Gateway API
//! `HTTPRoute.spec.hostnames`): a wildcard `*.example.com` covers any name
//! with at least one more label; the narrower of two matching names wins.

/// The hosts a route serves through a listener: `None` when they share no
/// name (the route does not attach there), `Some(empty)` for any host.
pub fn intersect(route: &[String], listener: Option<&str>) -> Option<Vec<String>> {
    let listener = listener.map(str::to_ascii_lowercase);
    let route: Vec<String> = route.iter().map(|h| h.to_ascii_lowercase()).collect();
    match (route.is_empty(), listener) {
        (true, None) => Some(Vec::new()),
        (true, Some(l)) => Some(vec![l]),
        (false, None) => Some(route),
        (false, Some(l)) => {
            let mut out: Vec<String> = route
                .iter()
                .filter_map(|r| narrower(r, &l))
                .map(str::to_owned)
                .collect();
            out.sort();
            out.dedup();
            (!out.is_empty()).then_some(out)
        }
    }
}

/// The narrower of `a` and `b` when one covers the other.
fn narrower<'a>(a: &'a str, b: &'a str) -> Option<&'a str> {
    if a == b || covers(b, a) {
        Some(a)
    } else if covers(a, b) {
        Some(b)
    } else {
        None
    }
}

/// Whether pattern `p` covers name `n` (`n` may itself be a wildcard).
fn covers(p: &str, n: &str) -> bool {
    let Some(suffix) = p.strip_prefix('*') else {
        return false;
    };
    // `suffix` is `.example.com`; `n` needs at least one label before it.
    let n = n.strip_prefix('*').unwrap_or(n);
    n.len() > suffix.len() && n.ends_with(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(hosts: &[&str]) -> Vec<String> {
        hosts.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn intersections_follow_the_spec_examples() {
        assert_eq!(intersect(&[], None), Some(vec![]));
        assert_eq!(
            intersect(&[], Some("*.example.com")),
            Some(v(&["*.example.com"]))
        );
        assert_eq!(
            intersect(&v(&["a.example.com", "b.other.org"]), Some("*.example.com")),
            Some(v(&["a.example.com"]))
        );
        assert_eq!(
            intersect(&v(&["*.example.com"]), Some("foo.example.com")),
            Some(v(&["foo.example.com"]))
        );
        assert_eq!(
            intersect(&v(&["*.example.com"]), Some("*.foo.example.com")),
            Some(v(&["*.foo.example.com"]))
        );
        // The bare suffix is not covered; no shared name means no attachment.
        assert_eq!(intersect(&v(&["example.com"]), Some("*.example.com")), None);
        assert_eq!(intersect(&v(&["a.org"]), Some("b.org")), None);
        assert_eq!(
            intersect(&v(&["Deep.Sub.Example.com"]), Some("*.example.com")),
            Some(v(&["deep.sub.example.com"]))
        );
    }
}
