//! Validation of the `logging` section: sinks that can be opened, formats
//! that fit the sink (a hash chain needs JSON), header names that parse.

use std::net::SocketAddr;

use crate::config::spec_logging::{AccessLogFormat, LoggingSpec, SinkSpec};
use crate::config::validate::Issues;

pub(crate) fn check_logging(out: &mut Issues, logging: &LoggingSpec) {
    let access = &logging.access;
    check_sink(out, "logging.access.sink", &access.sink);
    check_sink(out, "logging.security.sink", &logging.security.sink);
    if let SinkSpec::File(f) = &access.sink
        && f.hash_chain
        && access.format == AccessLogFormat::Combined
    {
        out.push(
            "logging.access.sink.hash_chain",
            "needs a JSON format (native or ecs), not combined",
        );
    }
    for (list, names) in [
        ("headers", &access.headers),
        ("redact_headers", &access.redact_headers),
    ] {
        for (i, name) in names.iter().enumerate() {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                out.push(
                    format!("logging.access.{list}[{i}]"),
                    format!("{name:?} is not a header name"),
                );
            }
        }
    }
}

fn check_sink(out: &mut Issues, field: &str, sink: &SinkSpec) {
    match sink {
        SinkSpec::Stdout | SinkSpec::Stderr => {}
        SinkSpec::File(f) => {
            if f.path.trim().is_empty() {
                out.push(format!("{field}.path"), "must not be empty");
            }
            if f.max_bytes == 0 {
                out.push(format!("{field}.max_bytes"), "must be positive");
            }
        }
        SinkSpec::Syslog(s) => {
            if s.address.parse::<SocketAddr>().is_err() {
                out.push(format!("{field}.address"), "must be IP:port");
            }
            if s.facility > 23 {
                out.push(format!("{field}.facility"), "must be 0..=23");
            }
        }
    }
}
