//! SecLang lexer: splits a rule file into directives (joining `\` continuations,
//! dropping comments) and a directive into its arguments (quotes, `\"` escapes).

use super::ParseError;
use std::path::Path;
use std::sync::Arc;

/// One directive as written: its name, its arguments, and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub file: Arc<Path>,
    pub line: usize,
}

/// Splits `text` into directives. Line numbers are 1-based and name the first
/// physical line of a continued directive.
pub fn directives(text: &str, file: &Arc<Path>) -> Result<Vec<Directive>, ParseError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if logical.is_empty() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start_line = index + 1;
        }
        // A trailing backslash continues the directive on the next line
        // (Apache's and ModSecurity's rule: the backslash is removed, the next
        // line's text is appended as is).
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            continue;
        }
        logical.push_str(line);
        push_directive(&mut out, &logical, file, start_line)?;
        logical.clear();
    }
    if !logical.is_empty() {
        push_directive(&mut out, &logical, file, start_line)?;
    }
    Ok(out)
}

fn push_directive(
    out: &mut Vec<Directive>,
    logical: &str,
    file: &Arc<Path>,
    line: usize,
) -> Result<(), ParseError> {
    let words = split_args(logical).map_err(|message| ParseError {
        file: file.clone(),
        line,
        message,
    })?;
    let mut words = words.into_iter();
    let Some(name) = words.next() else {
        return Ok(());
    };
    out.push(Directive {
        name,
        args: words.collect(),
        file: file.clone(),
        line,
    });
    Ok(())
}

/// Splits a directive line into words: whitespace separates, `"…"` or `'…'`
/// groups, and inside quotes only an escaped quote (`\"`) loses its backslash,
/// so regex escapes reach the operator untouched.
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&first) {
                    word.push(first);
                    chars.next();
                } else if c == first {
                    closed = true;
                    break;
                } else {
                    word.push(c);
                }
            }
            if !closed {
                return Err(format!("unterminated {first}-quoted argument"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<Path> {
        Arc::from(Path::new("t.conf"))
    }

    #[test]
    fn continuation_lines_join_and_keep_the_first_line_number() {
        let text =
            "# comment\n\nSecRule ARGS \"@rx a\" \\\n    \"id:1,\\\n    pass\"\nSecMarker END\n";
        let parsed = directives(text, &file()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].name, "SecRule");
        assert_eq!(parsed[0].line, 3);
        assert_eq!(parsed[0].args, vec!["ARGS", "@rx a", "id:1,    pass"]);
        assert_eq!(parsed[1].args, vec!["END"]);
        assert_eq!(parsed[1].line, 6);
    }

    #[test]
    fn only_escaped_quotes_lose_their_backslash() {
        let words = split_args(r#"SecRule ARGS "@rx \"\x5c\d" "msg:'a b'""#).unwrap();
        assert_eq!(
            words,
            vec!["SecRule", "ARGS", r#"@rx "\x5c\d"#, "msg:'a b'"]
        );
    }

    #[test]
    fn unterminated_quote_names_the_line() {
        let err = directives("\nSecRule ARGS \"@rx a", &file()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unterminated"), "{}", err.message);
    }
}
