//! A strict parser for the Prometheus/OpenMetrics text format, enough to
//! check that `/metrics` is well formed and to read sample values.

use std::collections::{BTreeMap, HashMap};

/// Samples keyed by `name{k="v",...}` exactly as exposed (labels in order).
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: BTreeMap<String, f64>,
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// The value of a sample whose key contains every needle (0 when absent).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(k, _)| {
                k.split('{').next() == Some(name)
                    && labels
                        .iter()
                        .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
            })
            .map(|(_, v)| *v)
            .sum()
    }
}

/// Parses `text`, failing on the first malformed line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut saw_eof = false;
    for (n, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line:?}", n + 1);
        if saw_eof {
            return Err(err("content after # EOF"));
        }
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap_or("");
            let name = parts.next().ok_or_else(|| err("no metric name"))?;
            check_name(name).map_err(|e| err(&e))?;
            match kind {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    let t = parts.next().ok_or_else(|| err("no type"))?;
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "unknown",
                        "stateset",
                        "gaugehistogram",
                    ];
                    if !known.contains(&t) {
                        return Err(err("unknown type"));
                    }
                    out.types.insert(name.to_owned(), t.to_owned());
                }
                _ => return Err(err("unknown comment")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| err("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| err("bad value"))?,
        };
        let name = series.split('{').next().unwrap_or("");
        check_name(name).map_err(|e| err(&e))?;
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            check_labels(labels).map_err(|e| err(&e))?;
        }
        let family = ["_total", "_bucket", "_sum", "_count", "_created", "_info"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| out.types.contains_key(*f)))
            .unwrap_or(name);
        if !out.types.contains_key(family) {
            return Err(err("sample without a # TYPE"));
        }
        if out.samples.insert(series.to_owned(), value).is_some() {
            return Err(err("duplicate series"));
        }
    }
    if !saw_eof {
        return Err("no # EOF".into());
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

/// `{a="x",b="y\"z"}`: names valid, values quoted with only \\ \" \n escapes.
fn check_labels(text: &str) -> Result<(), String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("labels not in braces")?;
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        check_name(name)?;
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '\\' | '"' | 'n')) => {}
                    _ => return Err("bad escape".into()),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                '\n' => return Err("raw newline".into()),
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err("junk after label".into()),
        };
    }
    Ok(())
}
