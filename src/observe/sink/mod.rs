//! Log sinks: where the writer thread of a stream puts its bytes. Every sink
//! is a blocking `Write` owned by that thread (never the request path).
//!
//! The writer hands a sink whole records (each ending in `\n`), possibly
//! several per call; record-oriented sinks (syslog, the hash chain) split
//! on newlines, which JSON and the escaped combined format never contain
//! inside a record.

pub mod chain;
pub mod file;
pub mod syslog;

use std::io::Write;

use crate::config::spec_logging::SinkSpec;

/// Opens the sink `spec` describes; `stream` names the stream (`access`,
/// `security`) in syslog's MSGID.
pub fn open(spec: &SinkSpec, stream: &'static str) -> Result<Box<dyn Write + Send>, String> {
    match spec {
        SinkSpec::Stdout => Ok(Box::new(std::io::stdout())),
        SinkSpec::Stderr => Ok(Box::new(std::io::stderr())),
        SinkSpec::File(f) => {
            let file =
                file::RotatingFile::open(f).map_err(|e| format!("log file {}: {e}", f.path))?;
            if f.hash_chain {
                let chained = chain::HashChain::resume(file, std::path::Path::new(&f.path))
                    .map_err(|e| format!("log file {}: {e}", f.path))?;
                Ok(Box::new(chained))
            } else {
                Ok(Box::new(file))
            }
        }
        SinkSpec::Syslog(s) => Ok(Box::new(syslog::Syslog::new(s, stream)?)),
    }
}

/// Appends `data` to `pending` and calls `each` with every complete line
/// (without its `\n`); the incomplete tail stays in `pending`.
pub(crate) fn for_each_line(
    pending: &mut Vec<u8>,
    data: &[u8],
    mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    pending.extend_from_slice(data);
    let mut start = 0;
    while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
        each(&pending[start..start + end])?;
        start += end + 1;
    }
    pending.drain(..start);
    Ok(())
}
