//! Tamper evidence for JSON log files: each record ends with
//! `"chain":{"prev":P,"hash":H}` where `H = sha256(P ‖ record)` over the
//! record as it was before the chain field was added. Editing or deleting a
//! line breaks the chain at that line; `portcullis audit verify FILE`
//! reports the first broken link.
//!
//! Limits: truncating the newest lines, or replacing the whole file with a
//! fresh chain, is only caught by comparing the last hash with a copy kept
//! elsewhere (ship the stream to a SIEM too).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use crate::observe::sink::for_each_line;

/// The `prev` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const PREFIX: &str = ",\"chain\":{\"prev\":\"";
const MIDDLE: &str = "\",\"hash\":\"";
const SUFFIX: &str = "\"}}";
/// Bytes the chain field adds after the record's last field.
const ADDED: usize = PREFIX.len() + 64 + MIDDLE.len() + 64 + SUFFIX.len();

/// Adds the chain field to each record written through it.
pub struct HashChain<W: Write> {
    out: W,
    prev: String,
    pending: Vec<u8>,
}

impl<W: Write> HashChain<W> {
    /// Continues the chain of the file at `path` (its last record's hash),
    /// so a restart does not break verification.
    pub fn resume(out: W, path: &Path) -> std::io::Result<Self> {
        let mut prev = GENESIS.to_owned();
        if let Ok(file) = std::fs::File::open(path) {
            for line in BufReader::new(file).lines() {
                if let Some((_, link)) = split_link(line?.as_bytes()) {
                    prev = link.hash;
                }
            }
        }
        Ok(Self {
            out,
            prev,
            pending: Vec::new(),
        })
    }
}

fn link_hash(prev: &str, record: &[u8]) -> String {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(prev.as_bytes());
    h.update(record);
    h.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<W: Write> Write for HashChain<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut out = Vec::with_capacity(data.len() + 200);
        let prev = &mut self.prev;
        for_each_line(&mut self.pending, data, |record| {
            // Only a JSON object can carry the field; anything else is a bug
            // upstream of here and must not silently go unchained.
            let Some(body) = record.strip_suffix(b"}") else {
                return Err(std::io::Error::other("hash chain needs JSON records"));
            };
            let hash = link_hash(prev, record);
            out.extend_from_slice(body);
            out.extend_from_slice(PREFIX.as_bytes());
            out.extend_from_slice(prev.as_bytes());
            out.extend_from_slice(MIDDLE.as_bytes());
            out.extend_from_slice(hash.as_bytes());
            out.extend_from_slice(SUFFIX.as_bytes());
            out.push(b'\n');
            *prev = hash;
            Ok(())
        })?;
        self.out.write_all(&out)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

struct Link {
    prev: String,
    hash: String,
}

/// Splits a written line into the original record and its link.
fn split_link(line: &[u8]) -> Option<(Vec<u8>, Link)> {
    let cut = line.len().checked_sub(ADDED)?;
    let (body, tail) = line.split_at(cut);
    let tail = std::str::from_utf8(tail).ok()?;
    let rest = tail.strip_prefix(PREFIX)?;
    let (prev, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix(MIDDLE)?;
    let (hash, rest) = rest.split_at_checked(64)?;
    (rest == SUFFIX).then_some(())?;
    let mut record = body.to_vec();
    record.push(b'}');
    Some((
        record,
        Link {
            prev: prev.to_owned(),
            hash: hash.to_owned(),
        },
    ))
}

/// The outcome of verifying a chained file.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds; `last` is the final hash (keep it elsewhere to
    /// detect truncation later).
    Intact { records: usize, last: String },
    /// Line `line` (1-based) is the first that does not link.
    Broken { line: usize, why: &'static str },
}

/// Verifies the chain in `path`. The first record may continue an older
/// (rotated) file, so its `prev` is taken as given.
pub fn verify(path: &Path) -> std::io::Result<Verdict> {
    let reader = BufReader::new(std::fs::File::open(path)?);
    let mut prev: Option<String> = None;
    let mut records = 0;
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let Some((record, link)) = split_link(&line) else {
            return Ok(Verdict::Broken {
                line: i + 1,
                why: "no chain field",
            });
        };
        if prev.as_ref().is_some_and(|p| *p != link.prev) {
            return Ok(Verdict::Broken {
                line: i + 1,
                why: "prev does not match the previous record (line removed or reordered)",
            });
        }
        if link_hash(&link.prev, &record) != link.hash {
            return Ok(Verdict::Broken {
                line: i + 1,
                why: "hash does not match the record (record modified)",
            });
        }
        prev = Some(link.hash);
        records += 1;
    }
    Ok(Verdict::Intact {
        records,
        last: prev.unwrap_or_else(|| GENESIS.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chained(dir: &Path, records: &[&str]) -> std::path::PathBuf {
        let path = dir.join("audit.log");
        let file = std::fs::File::create(&path).unwrap();
        let mut chain = HashChain::resume(file, &path).unwrap();
        for r in records {
            // Split across writes on purpose: records may arrive in pieces.
            let (a, b) = r.split_at(r.len() / 2);
            chain.write_all(a.as_bytes()).unwrap();
            chain.write_all(format!("{b}\n").as_bytes()).unwrap();
        }
        path
    }

    #[test]
    fn intact_chain_verifies_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = chained(dir.path(), &[r#"{"a":1}"#, r#"{"b":"x"}"#]);
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        let Verdict::Intact { records: 2, .. } = verify(&path).unwrap() else {
            panic!("not intact");
        };
        // A restart appends with the chain continued.
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut chain = HashChain::resume(file, &path).unwrap();
        chain.write_all(b"{\"c\":2}\n").unwrap();
        assert!(matches!(
            verify(&path).unwrap(),
            Verdict::Intact { records: 3, .. }
        ));
    }

    #[test]
    fn modified_and_removed_lines_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = chained(dir.path(), &[r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"n\":2", "\"n\":7", 1)).unwrap();
        assert!(matches!(
            verify(&path).unwrap(),
            Verdict::Broken { line: 2, .. }
        ));
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(matches!(
            verify(&path).unwrap(),
            Verdict::Broken { line: 2, .. }
        ));
    }
}
