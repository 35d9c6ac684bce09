//! Registered-claim checks (RFC 7519 §4.1) on a verified payload: `iss`,
//! `aud`, `exp`, `nbf`, `iat` with a leeway, and required claims. Time
//! claims must be JSON numbers: a string `exp` is an invalid token, not a
//! token that never expires (the type-confusion class of JWT bugs).

use serde_json::Value;

use crate::policy::principal::claim_path;

/// Why a verified token is still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    Expired,
    NotYetValid,
    IssuedInFuture,
    AudienceMismatch,
    MissingClaim,
    /// A registered claim of the wrong type, or a payload that is not an object.
    Invalid,
}

impl ClaimError {
    pub fn reason(self) -> &'static str {
        match self {
            ClaimError::Expired => "token_expired",
            ClaimError::NotYetValid => "token_not_yet_valid",
            ClaimError::IssuedInFuture => "token_issued_in_future",
            ClaimError::AudienceMismatch => "audience_mismatch",
            ClaimError::MissingClaim => "missing_claim",
            ClaimError::Invalid => "invalid_token",
        }
    }
}

/// What the checks need from the provider.
#[derive(Debug)]
pub struct ClaimRules<'a> {
    pub audiences: &'a [String],
    pub required: &'a [String],
    pub leeway_secs: u64,
    /// Whether a token without `exp` is refused.
    pub require_exp: bool,
}

fn number(claims: &Value, name: &str) -> Result<Option<f64>, ClaimError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(ClaimError::Invalid),
        Some(_) => Err(ClaimError::Invalid),
    }
}

/// Checks `claims` at Unix time `now`; returns the expiry (seconds) when set.
pub fn check(claims: &Value, rules: &ClaimRules<'_>, now: u64) -> Result<Option<u64>, ClaimError> {
    if !claims.is_object() {
        return Err(ClaimError::Invalid);
    }
    let now = now as f64;
    let leeway = rules.leeway_secs as f64;
    let exp = number(claims, "exp")?;
    match exp {
        Some(exp) if now > exp + leeway => return Err(ClaimError::Expired),
        None if rules.require_exp => return Err(ClaimError::MissingClaim),
        _ => {}
    }
    if let Some(nbf) = number(claims, "nbf")?
        && now + leeway < nbf
    {
        return Err(ClaimError::NotYetValid);
    }
    if let Some(iat) = number(claims, "iat")?
        && now + leeway < iat
    {
        return Err(ClaimError::IssuedInFuture);
    }
    if !rules.audiences.is_empty() {
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => rules.audiences.iter().any(|a| a == aud),
            Some(Value::Array(list)) => list.iter().any(|v| {
                v.as_str()
                    .is_some_and(|aud| rules.audiences.iter().any(|a| a == aud))
            }),
            Some(_) => return Err(ClaimError::Invalid),
            None => false,
        };
        if !ok {
            return Err(ClaimError::AudienceMismatch);
        }
    }
    for path in rules.required {
        if claim_path(claims, path).is_none_or(Value::is_null) {
            return Err(ClaimError::MissingClaim);
        }
    }
    Ok(exp.map(|e| e.max(0.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules<'a>(aud: &'a [String], req: &'a [String]) -> ClaimRules<'a> {
        ClaimRules {
            audiences: aud,
            required: req,
            leeway_secs: 10,
            require_exp: true,
        }
    }

    #[test]
    fn time_claims_with_leeway() {
        let r = rules(&[], &[]);
        assert_eq!(check(&json!({"exp": 1000}), &r, 1005), Ok(Some(1000)));
        assert_eq!(
            check(&json!({"exp": 1000}), &r, 1011),
            Err(ClaimError::Expired)
        );
        assert_eq!(
            check(&json!({"exp": 5000, "nbf": 2000}), &r, 1000),
            Err(ClaimError::NotYetValid)
        );
        assert_eq!(
            check(&json!({"exp": 5000, "iat": 2000}), &r, 1000),
            Err(ClaimError::IssuedInFuture)
        );
        assert_eq!(
            check(&json!({"sub": "a"}), &r, 1000),
            Err(ClaimError::MissingClaim)
        );
        // Type confusion: a string exp is not "no expiry".
        assert_eq!(
            check(&json!({"exp": "9999999999"}), &r, 1000),
            Err(ClaimError::Invalid)
        );
        assert_eq!(check(&json!([1]), &r, 1000), Err(ClaimError::Invalid));
    }

    #[test]
    fn audience_any_of_and_required_claims() {
        let aud = vec!["api".to_owned(), "web".to_owned()];
        let req = vec!["tenant.id".to_owned()];
        let r = rules(&aud, &req);
        let ok = json!({"exp": 5000, "aud": ["x", "web"], "tenant": {"id": 7}});
        assert!(check(&ok, &r, 1000).is_ok());
        let wrong = json!({"exp": 5000, "aud": "other", "tenant": {"id": 7}});
        assert_eq!(check(&wrong, &r, 1000), Err(ClaimError::AudienceMismatch));
        let missing = json!({"exp": 5000, "aud": "api"});
        assert_eq!(check(&missing, &r, 1000), Err(ClaimError::MissingClaim));
        let bad_type = json!({"exp": 5000, "aud": 3});
        assert_eq!(check(&bad_type, &r, 1000), Err(ClaimError::Invalid));
    }
}
