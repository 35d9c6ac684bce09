//! Parses a SecLang action list (`id:1,phase:2,t:none,msg:'a, b'`) into
//! name/value pairs; giving them meaning is the rule builder's job.

/// One action as written: lower-cased name and its unquoted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    pub name: String,
    pub value: Option<String>,
}

pub fn parse_actions(text: &str) -> Result<Vec<ActionSpec>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != ':' && chars[i] != ',' {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad action name {name:?}"));
        }
        let mut value = None;
        if i < chars.len() && chars[i] == ':' {
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if chars.get(i) == Some(&'\'') {
                i += 1;
                let mut v = String::new();
                let mut closed = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c == '\\' && chars.get(i + 1) == Some(&'\'') {
                        v.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    v.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unterminated quote in the value of action {name:?}"
                    ));
                }
                value = Some(v);
            } else {
                let start = i;
                while i < chars.len() && chars[i] != ',' {
                    i += 1;
                }
                value = Some(
                    chars[start..i]
                        .iter()
                        .collect::<String>()
                        .trim_end()
                        .to_string(),
                );
            }
        }
        out.push(ActionSpec { name, value });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_commas_outside_quotes() {
        let a = parse_actions("id:1,    phase:2,t:none,msg:'a, b',setvar:'tx.x=+%{tx.y}',chain")
            .unwrap();
        let pairs: Vec<(&str, Option<&str>)> = a
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("id", Some("1")),
                ("phase", Some("2")),
                ("t", Some("none")),
                ("msg", Some("a, b")),
                ("setvar", Some("tx.x=+%{tx.y}")),
                ("chain", None),
            ]
        );
    }

    #[test]
    fn ctl_values_keep_their_colons() {
        let a = parse_actions("ctl:ruleRemoveTargetById=920450;REQUEST_HEADERS:foo").unwrap();
        assert_eq!(
            a[0].value.as_deref(),
            Some("ruleRemoveTargetById=920450;REQUEST_HEADERS:foo")
        );
    }

    #[test]
    fn rejects_unterminated_quotes() {
        assert!(parse_actions("msg:'abc").is_err());
        assert!(parse_actions("i d:1").is_err());
    }
}
