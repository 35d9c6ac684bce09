//! Parses a SecRule target list (`ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^_ga/`).

/// One element of a target list, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// Collection or variable name, upper-cased (`ARGS`, `XML`, `TX`).
    pub collection: String,
    pub selector: Option<SelectorSpec>,
    /// `&ARGS`: the number of values instead of the values.
    pub count: bool,
    /// `!ARGS:foo`: removes matching values from the rule's other targets.
    pub exclude: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorSpec {
    /// A key (case-insensitive for most collections) or an XPath for `XML`.
    Key(String),
    /// `/regex/`: every key the regex matches.
    Regex(String),
}

pub fn parse_targets(text: &str) -> Result<Vec<TargetSpec>, String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let mut exclude = false;
        let mut count = false;
        while i < bytes.len() && (bytes[i] == '!' || bytes[i] == '&') {
            if bytes[i] == '!' {
                exclude = true;
            } else {
                count = true;
            }
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != ':' && bytes[i] != '|' {
            i += 1;
        }
        let collection: String = bytes[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_ascii_uppercase();
        if collection.is_empty()
            || !collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("bad variable name {collection:?} in {text:?}"));
        }
        let mut selector = None;
        if i < bytes.len() && bytes[i] == ':' {
            i += 1;
            selector = Some(parse_selector(&bytes, &mut i, text)?);
        }
        if i < bytes.len() {
            if bytes[i] != '|' {
                return Err(format!("expected '|' after a variable in {text:?}"));
            }
            i += 1;
        }
        out.push(TargetSpec {
            collection,
            selector,
            count,
            exclude,
        });
    }
    if out.is_empty() {
        return Err("empty target list".into());
    }
    Ok(out)
}

fn parse_selector(chars: &[char], i: &mut usize, text: &str) -> Result<SelectorSpec, String> {
    let quoted = chars.get(*i) == Some(&'\'');
    if quoted {
        *i += 1;
    }
    // An XPath selector (`XML:/*`, `XML://@*`) also starts with '/', but never
    // ends with an unescaped '/' followed by the end or '|': treat "/…/" as a
    // regex only when it closes that way.
    if chars.get(*i) == Some(&'/')
        && let Some(end) = regex_end(chars, *i + 1, quoted)
    {
        let pattern: String = chars[*i + 1..end].iter().collect();
        *i = end + 1;
        if quoted {
            expect_quote(chars, i, text)?;
        }
        return Ok(SelectorSpec::Regex(pattern));
    }
    let start = *i;
    while *i < chars.len()
        && (if quoted {
            chars[*i] != '\''
        } else {
            chars[*i] != '|'
        })
    {
        *i += 1;
    }
    let key: String = chars[start..*i].iter().collect();
    if quoted {
        expect_quote(chars, i, text)?;
    }
    Ok(SelectorSpec::Key(key))
}

fn regex_end(chars: &[char], from: usize, quoted: bool) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '/' => {
                let next = chars.get(j + 1);
                let closes = if quoted {
                    next == Some(&'\'')
                } else {
                    next.is_none() || next == Some(&'|')
                };
                if closes && j > from {
                    return Some(j);
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    None
}

fn expect_quote(chars: &[char], i: &mut usize, text: &str) -> Result<(), String> {
    if chars.get(*i) == Some(&'\'') {
        *i += 1;
        Ok(())
    } else {
        Err(format!("unterminated quoted selector in {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str, k: &str) -> TargetSpec {
        TargetSpec {
            collection: c.into(),
            selector: Some(SelectorSpec::Key(k.into())),
            count: false,
            exclude: false,
        }
    }

    #[test]
    fn parses_counts_exclusions_regexes_and_xpath() {
        let t = parse_targets("ARGS|!REQUEST_HEADERS:Referer|&TX:x|TX:/^a|b_/|XML:/*|XML://@*")
            .unwrap();
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].collection, "ARGS");
        assert!(t[0].selector.is_none());
        assert!(t[1].exclude);
        assert_eq!(t[1].selector, Some(SelectorSpec::Key("Referer".into())));
        assert!(t[2].count);
        assert_eq!(t[3].selector, Some(SelectorSpec::Regex("^a|b_".into())));
        assert_eq!(t[4], key("XML", "/*"));
        assert_eq!(t[5], key("XML", "//@*"));
    }

    #[test]
    fn quoted_regex_selector() {
        let t = parse_targets("!REQUEST_COOKIES:'/^_ga(?:_\\w+)?$/'").unwrap();
        assert_eq!(
            t[0].selector,
            Some(SelectorSpec::Regex("^_ga(?:_\\w+)?$".into()))
        );
    }

    #[test]
    fn rejects_bad_names() {
        assert!(parse_targets("AR GS").is_err());
        assert!(parse_targets("").is_err());
        assert!(parse_targets("ARGS:'x").is_err());
    }
}
