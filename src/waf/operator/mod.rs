//! SecLang operators (`@name param`), one file per family, compiled once at rule load.
//!
//! `compile` turns a rule's operator into a boxed [`Operator`]; evaluation is
//! allocation-free on the common path. Operators whose parameter can hold macros
//! (`%{tx.x}`) use the engine's expanded text when it is given.

mod detect;
#[cfg(test)]
mod detect_vectors;
mod ip_match;
mod literal;
mod numeric;
mod phrase;
mod prefilter;
mod regex;
mod validate;

pub use prefilter::ByteSet;
use std::path::Path;

/// Where relative data-file paths (`@pmFromFile`, `@ipMatchFromFile`) are resolved.
pub struct OperatorEnv<'a> {
    pub rules_dir: &'a Path,
}

/// Capture groups for `capture` (TX.0..TX.9), filled by operators that capture (@rx; others as ModSecurity does).
pub type Captures = [Option<Vec<u8>>; 10];

pub trait Operator: Send + Sync + std::fmt::Debug {
    /// `input`: the transformed value. `expanded`: `Some` only when the rule's parameter contains macros
    /// (`%{tx.name}`); the engine expands them per evaluation and the operator uses that text instead
    /// of its compiled parameter. Negation (`!@rx`) is the engine's job.
    fn evaluate(
        &self,
        input: &[u8],
        expanded: Option<&str>,
        captures: Option<&mut Captures>,
    ) -> bool;
    /// Literals one of which must occur in any matching input, to be searched ASCII
    /// case-insensitively in the *transformed* value (they are returned lowercase) — for the
    /// engine's aho-corasick prefilter. `None` = no prefilter possible.
    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        None
    }
    /// Bytes one of which any matching input holds (checked on the transformed
    /// value before the operator runs). `None` = no such set.
    fn required_bytes(&self) -> Option<ByteSet> {
        None
    }
}

/// `name` without the `@` (e.g. "rx", "pmFromFile"), case-insensitive; an error names what is wrong.
pub fn compile(name: &str, param: &str, env: &OperatorEnv) -> Result<Box<dyn Operator>, String> {
    let operator: Box<dyn Operator> = match name.to_ascii_lowercase().as_str() {
        "rx" => Box::new(regex::Rx::compile(param)?),
        "pm" => Box::new(phrase::Pm::from_param(param)?),
        "pmfromfile" | "pmf" => Box::new(phrase::Pm::from_files(param, env.rules_dir)?),
        "eq" => Box::new(numeric::Compare::new(numeric::Relation::Eq, param)),
        "ne" => Box::new(numeric::Compare::new(numeric::Relation::Ne, param)),
        "lt" => Box::new(numeric::Compare::new(numeric::Relation::Lt, param)),
        "le" => Box::new(numeric::Compare::new(numeric::Relation::Le, param)),
        "gt" => Box::new(numeric::Compare::new(numeric::Relation::Gt, param)),
        "ge" => Box::new(numeric::Compare::new(numeric::Relation::Ge, param)),
        "streq" => Box::new(literal::Literal::new(literal::Test::Equals, param)),
        "contains" => Box::new(literal::Literal::new(literal::Test::Contains, param)),
        "containsword" => Box::new(literal::Literal::new(literal::Test::ContainsWord, param)),
        "beginswith" => Box::new(literal::Literal::new(literal::Test::BeginsWith, param)),
        "endswith" => Box::new(literal::Literal::new(literal::Test::EndsWith, param)),
        "within" => Box::new(literal::Literal::new(literal::Test::Within, param)),
        "strmatch" => Box::new(literal::Literal::new(literal::Test::Contains, param)),
        "validatebyterange" => Box::new(validate::ByteRange::parse(param)?),
        "validateurlencoding" => Box::new(validate::UrlEncoding),
        "validateutf8encoding" => Box::new(validate::Utf8Encoding),
        "ipmatch" => Box::new(ip_match::IpMatch::from_param(param)?),
        "ipmatchfromfile" | "ipmatchf" => {
            Box::new(ip_match::IpMatch::from_files(param, env.rules_dir)?)
        }
        "detectsqli" => Box::new(detect::DetectSqli),
        "detectxss" => Box::new(detect::DetectXss),
        "unconditionalmatch" => Box::new(Constant(true)),
        "nomatch" => Box::new(Constant(false)),
        other => return Err(format!("unknown or unsupported operator @{other}")),
    };
    Ok(operator)
}

/// `@unconditionalMatch` / `@noMatch`.
#[derive(Debug)]
struct Constant(bool);

impl Operator for Constant {
    fn evaluate(
        &self,
        _input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        self.0
    }
}

/// Reads a data file (`@pmFromFile`, `@ipMatchFromFile`): relative to the rules folder,
/// one entry per line, blank lines and `#` comments skipped.
fn data_file_lines(path: &str, rules_dir: &Path) -> Result<Vec<String>, String> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return Err(format!(
            "data file {path}: remote data files are not supported"
        ));
    }
    let full = rules_dir.join(path);
    let text = std::fs::read(&full).map_err(|e| format!("data file {}: {e}", full.display()))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::PathBuf;

    /// The CRS rules folder: `$PORTCULLIS_SHARED/waf/...`, default `../shared` beside the repo.
    pub fn crs_rules_dir() -> PathBuf {
        let shared = std::env::var_os("PORTCULLIS_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
        let rules = shared.join("waf/crs-v4.28.0/rules");
        assert!(
            rules.is_dir(),
            "CRS not found at {} (set PORTCULLIS_SHARED)",
            rules.display()
        );
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crs_operator_compiles() {
        let env = OperatorEnv {
            rules_dir: Path::new("."),
        };
        for (name, param) in [
            ("rx", "a+"),
            ("lt", "5"),
            ("eq", "0"),
            ("ge", "%{tx.x}"),
            ("gt", "1"),
            ("pm", "a b"),
            ("streq", "POST"),
            ("within", "GET HEAD"),
            ("validateByteRange", "1-255"),
            ("contains", "#"),
            ("endsWith", ".pdf"),
            ("beginsWith", "x"),
            ("ipMatch", "127.0.0.1,::1"),
            ("detectXSS", ""),
            ("detectSQLi", ""),
            ("validateUtf8Encoding", ""),
            ("validateUrlEncoding", ""),
            ("unconditionalMatch", ""),
        ] {
            assert!(compile(name, param, &env).is_ok(), "@{name}");
        }
        let err = compile("rbl", "x", &env).unwrap_err();
        assert!(err.contains("@rbl"), "{err}");
    }

    #[test]
    fn constants() {
        let env = OperatorEnv {
            rules_dir: Path::new("."),
        };
        assert!(
            compile("unconditionalMatch", "", &env)
                .unwrap()
                .evaluate(b"", None, None)
        );
        assert!(
            !compile("noMatch", "", &env)
                .unwrap()
                .evaluate(b"x", None, None)
        );
    }

    #[test]
    fn data_files_skip_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.data"), "# header\n\nfoo\r\n  bar  \n").unwrap();
        assert_eq!(
            data_file_lines("d.data", dir.path()).unwrap(),
            ["foo", "bar"]
        );
        assert!(
            data_file_lines("missing.data", dir.path())
                .unwrap_err()
                .contains("missing.data")
        );
        assert!(data_file_lines("https://x/y", dir.path()).is_err());
    }
}
