//! The combined log format (Apache/nginx), for humans and old tools:
//! `client - - [time] "METHOD target PROTO" status bytes "referer" "agent"`.
//! Quoted fields are escaped so a hostile user agent cannot forge a line.

use std::io::Write;

use crate::observe::access_log::{AccessRecord, version_name};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes one combined-format line (no newline).
pub fn write(record: &AccessRecord, buf: &mut Vec<u8>) -> bool {
    let facts = &record.facts;
    let client = record
        .client_ip
        .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let mut target = record.path.clone();
    if let Some(q) = &facts.query {
        target.push('?');
        target.push_str(q);
    }
    write!(
        buf,
        "{client} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        clf_time(record.time),
        record.method.as_str(),
        escape(&target),
        version_name(record.version),
        record.status,
        record.bytes_sent,
        escape(facts.referer.as_deref().unwrap_or("-")),
        escape(facts.user_agent.as_deref().unwrap_or("-")),
    )
    .is_ok()
}

/// `10/Oct/2000:13:55:36 +0000` from the RFC 3339 form (always UTC).
pub(crate) fn clf_time(time: std::time::SystemTime) -> String {
    let rfc = humantime::format_rfc3339_seconds(time).to_string();
    // 2000-10-10T13:55:36Z
    let month = rfc
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("???");
    match (rfc.get(0..4), rfc.get(8..10), rfc.get(11..19)) {
        (Some(y), Some(d), Some(t)) => format!("{d}/{month}/{y}:{t} +0000"),
        _ => rfc,
    }
}

/// Escapes `"`, `\` and control bytes as nginx does (`\xHH`).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("\\x{byte:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_escaping() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(971_186_136);
        assert_eq!(clf_time(t), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\x0Ad");
    }
}
