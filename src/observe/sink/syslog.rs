//! Syslog (RFC 5424) over UDP (one datagram per record) or TCP (octet
//! counting, RFC 6587), for SIEMs that collect syslog.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME portcullis PROCID MSGID - MSG`, with the
//! record (JSON or combined) as MSG. TCP reconnects on the next record after
//! a failure; records that fail are counted as dropped by the writer.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, SystemTime};

use crate::config::spec_logging::{SyslogProtocol, SyslogSinkSpec};
use crate::observe::sink::for_each_line;

/// Severity 6 (informational) for every record; SIEM rules key on content.
const SEVERITY: u8 = 6;
/// Largest UDP message sent; longer records are truncated (RFC 5424 §6.1
/// lets a receiver truncate above 2048 anyway).
const MAX_UDP: usize = 8192;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Syslog {
    target: SocketAddr,
    protocol: SyslogProtocol,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
    header_tail: String,
    pri: u8,
    pending: Vec<u8>,
}

impl Syslog {
    pub fn new(spec: &SyslogSinkSpec, stream: &'static str) -> Result<Self, String> {
        let target: SocketAddr = spec
            .address
            .parse()
            .map_err(|_| format!("syslog address {:?} is not IP:port", spec.address))?;
        if spec.facility > 23 {
            return Err(format!("syslog facility {} is not 0..=23", spec.facility));
        }
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "-".to_owned());
        Ok(Self {
            target,
            protocol: spec.protocol,
            udp: None,
            tcp: None,
            header_tail: format!(" {hostname} portcullis {} {stream} - ", std::process::id()),
            pri: spec.facility * 8 + SEVERITY,
            pending: Vec::new(),
        })
    }

    fn message(&self, record: &[u8]) -> Vec<u8> {
        let time = humantime::format_rfc3339_micros(SystemTime::now());
        let mut m = format!("<{}>1 {time}{}", self.pri, self.header_tail).into_bytes();
        m.extend_from_slice(record);
        m
    }

    fn send(&mut self, message: &[u8]) -> std::io::Result<()> {
        match self.protocol {
            SyslogProtocol::Udp => {
                if self.udp.is_none() {
                    let bind: SocketAddr = if self.target.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        ([0u16; 8], 0).into()
                    };
                    self.udp = Some(UdpSocket::bind(bind)?);
                }
                let socket = self
                    .udp
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("no socket"))?;
                let end = message.len().min(MAX_UDP);
                socket.send_to(&message[..end], self.target)?;
                Ok(())
            }
            SyslogProtocol::Tcp => {
                if self.tcp.is_none() {
                    let stream = TcpStream::connect_timeout(&self.target, CONNECT_TIMEOUT)?;
                    stream.set_write_timeout(Some(CONNECT_TIMEOUT))?;
                    self.tcp = Some(stream);
                }
                let mut frame = format!("{} ", message.len()).into_bytes();
                frame.extend_from_slice(message);
                let result = match self.tcp.as_mut() {
                    Some(stream) => stream.write_all(&frame),
                    None => Err(std::io::Error::other("no connection")),
                };
                if result.is_err() {
                    // Reconnect on the next record.
                    self.tcp = None;
                }
                result
            }
        }
    }
}

impl Write for Syslog {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut pending = std::mem::take(&mut self.pending);
        let mut messages = Vec::new();
        let split = for_each_line(&mut pending, data, |record| {
            messages.push(self.message(record));
            Ok(())
        });
        self.pending = pending;
        split?;
        for m in messages {
            self.send(&m)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_messages_are_rfc5424() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let spec = SyslogSinkSpec {
            address: receiver.local_addr().unwrap().to_string(),
            protocol: SyslogProtocol::Udp,
            facility: 16,
        };
        let mut sink = Syslog::new(&spec, "access").unwrap();
        sink.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = receiver.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.starts_with("<134>1 "), "{text}");
        assert!(text.contains(" portcullis "), "{text}");
        assert!(text.ends_with(" access - {\"a\":1}"), "{text}");
    }
}
