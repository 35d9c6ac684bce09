//! The record of a connection or request refused on its raw bytes, before
//! any request existed (malformed framing → 400, head timeout → 408,
//! connection limit → no answer, status 0), in each access-log format.
//! There is no method, host or path to write.

use std::io::Write;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde_json::json;

use crate::observe::format::combined::clf_time;
use crate::observe::format::ecs::ECS_VERSION;

#[derive(Debug)]
pub struct Refusal<'a> {
    pub time: SystemTime,
    pub listener: &'a str,
    pub peer: SocketAddr,
    /// 0 when the connection was closed without an answer.
    pub status: u16,
    pub reason: &'static str,
}

impl Refusal<'_> {
    pub fn write_native(&self, buf: &mut Vec<u8>) -> bool {
        let line = json!({
            "time": humantime::format_rfc3339_micros(self.time).to_string(),
            "listener": self.listener,
            "client_ip": self.peer.ip().to_string(),
            "peer": self.peer.to_string(),
            "status": self.status,
            "reason": self.reason,
        });
        serde_json::to_writer(buf, &line).is_ok()
    }

    /// ECS: an `event.type: [access, denied]` failure with the reason; the
    /// HTTP status only when one was written.
    pub fn write_ecs(&self, buf: &mut Vec<u8>) -> bool {
        let ip = self.peer.ip().to_string();
        let mut doc = json!({
            "@timestamp": humantime::format_rfc3339_micros(self.time).to_string(),
            "ecs": {"version": ECS_VERSION},
            "event": {
                "kind": "event",
                "category": ["web", "network"],
                "type": ["access", "denied"],
                "outcome": "failure",
                "dataset": "portcullis.access",
                "duration": 0,
                "reason": self.reason,
            },
            "source": {"ip": ip, "port": self.peer.port()},
            "client": {"ip": ip},
            "portcullis": {
                "listener": self.listener,
                "peer": self.peer.to_string(),
            },
        });
        if self.status != 0 {
            doc["http"] = json!({"response": {"status_code": self.status, "bytes": 0}});
        }
        serde_json::to_writer(buf, &doc).is_ok()
    }

    /// Combined: the request line is unknown (`"-"`), as nginx logs a
    /// request it could not parse.
    pub fn write_combined(&self, buf: &mut Vec<u8>) -> bool {
        write!(
            buf,
            "{} - - [{}] \"-\" {} 0 \"-\" \"-\"",
            self.peer.ip(),
            clf_time(self.time),
            self.status
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, reason: &'static str) -> Refusal<'static> {
        Refusal {
            time: SystemTime::UNIX_EPOCH,
            listener: "web",
            peer: SocketAddr::from(([192, 0, 2, 7], 40000)),
            status,
            reason,
        }
    }

    #[test]
    fn each_format_names_the_reason_and_status() {
        let mut buf = Vec::new();
        assert!(refusal(400, "bad_framing").write_ecs(&mut buf));
        let doc: serde_json::Value = serde_json::from_slice(&buf).unwrap_or_default();
        assert_eq!(doc["event"]["reason"], "bad_framing");
        assert_eq!(doc["http"]["response"]["status_code"], 400);
        assert_eq!(doc["source"]["ip"], "192.0.2.7");

        buf.clear();
        assert!(refusal(0, "conn_limit").write_ecs(&mut buf));
        let doc: serde_json::Value = serde_json::from_slice(&buf).unwrap_or_default();
        assert!(doc.get("http").is_none());

        buf.clear();
        assert!(refusal(408, "head_timeout").write_combined(&mut buf));
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "192.0.2.7 - - [01/Jan/1970:00:00:00 +0000] \"-\" 408 0 \"-\" \"-\""
        );
    }
}
