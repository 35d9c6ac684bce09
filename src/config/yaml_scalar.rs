//! YAML 1.2 core-schema resolution of plain scalars, and the tags we accept.

use serde_json::{Number, Value};
use yaml_rust2::parser::Tag;
use yaml_rust2::scanner::Marker;

use crate::config::yaml::YamlError;

/// Only `!!str` (forcing a string) is accepted; returns whether it was given.
pub(crate) fn check_tag(tag: Option<&Tag>, mark: &Marker, path: &str) -> Result<bool, YamlError> {
    match tag {
        None => Ok(false),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == "str" => Ok(true),
        Some(t) => Err(YamlError::at(
            mark,
            path,
            format!(
                "YAML tag {}{} is not supported (only !!str)",
                t.handle, t.suffix
            ),
        )),
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub(crate) fn resolve_plain(text: String) -> Result<Value, String> {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(n) = resolve_int(&text) {
        return n.map(Value::Number);
    }
    if is_float(&text) {
        return match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(format!("number {text} is not representable")),
        };
    }
    let bare = text.trim_start_matches(['+', '-']);
    if matches!(bare, ".inf" | ".Inf" | ".INF") || matches!(text.as_str(), ".nan" | ".NaN" | ".NAN")
    {
        return Err(format!("non-finite number {text} is not supported"));
    }
    Ok(Value::String(text))
}

/// `Some` if `text` is a core-schema integer (decimal, `0o`, `0x`).
fn resolve_int(text: &str) -> Option<Result<Number, String>> {
    let out_of_range = || Err(format!("integer {text} is out of range"));
    let (digits, radix) = if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(if text.starts_with('-') {
            text.parse::<i64>()
                .map(Number::from)
                .or_else(|_| out_of_range())
        } else {
            unsigned
                .parse::<u64>()
                .map(Number::from)
                .or_else(|_| out_of_range())
        });
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(
        u64::from_str_radix(digits, radix)
            .map(Number::from)
            .or_else(|_| out_of_range()),
    )
}

/// Core-schema float: `[-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )?`.
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && digits(frac)) || (digits(int) && (frac.is_empty() || digits(frac)))
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn scalar(text: &str) -> Value {
        let doc = parse(&format!("k: {text}\n")).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        doc.value["k"].clone()
    }

    #[test]
    fn core_schema_scalars() {
        use serde_json::json;
        assert_eq!(scalar("true"), json!(true));
        assert_eq!(scalar("False"), json!(false));
        assert_eq!(scalar("yes"), json!("yes"), "YAML 1.1 booleans are strings");
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar(""), Value::Null);
        assert_eq!(scalar("42"), json!(42));
        assert_eq!(scalar("-7"), json!(-7));
        assert_eq!(scalar("0x1F"), json!(31));
        assert_eq!(scalar("0o17"), json!(15));
        assert_eq!(scalar("1.5"), json!(1.5));
        assert_eq!(scalar("1e3"), json!(1000.0));
        assert_eq!(scalar("'42'"), json!("42"));
        assert_eq!(scalar("\"true\""), json!("true"));
        assert_eq!(scalar("!!str 42"), json!("42"));
        assert_eq!(scalar("10.0.0.1:80"), json!("10.0.0.1:80"));
        assert_eq!(scalar("1.2.3"), json!("1.2.3"));
        assert!(parse("k: .inf\n").is_err());
        assert!(parse("k: 99999999999999999999\n").is_err());
        assert!(parse("k: !!int 1\n").is_err());
    }
}
