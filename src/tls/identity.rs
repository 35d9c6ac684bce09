//! What a finished handshake tells the rest of the pipeline: protocol
//! version, cipher, SNI and the verified client identity.

use std::fmt::Write;

use http::HeaderValue;
use rustls::ServerConnection;

use crate::tls::certs;

/// Facts about one TLS connection, shared by all its requests.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    pub version: &'static str,
    pub cipher: &'static str,
    pub sni: Option<String>,
    pub client: Option<ClientIdentity>,
}

/// A client certificate that the listener's verifier accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientIdentity {
    pub subject: String,
    /// DNS names, then other SANs as `TYPE:value`.
    pub sans: Vec<String>,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
}

impl TlsFacts {
    /// Reads the facts from a connection whose handshake completed. The
    /// peer certificate is only present when the verifier accepted it.
    pub fn from_connection(conn: &ServerConnection) -> Self {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown");
        let client = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| ClientIdentity::from_der(leaf.as_ref()));
        TlsFacts {
            version,
            cipher,
            sni: conn.server_name().map(str::to_owned),
            client,
        }
    }
}

impl ClientIdentity {
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let facts = certs::leaf_facts(der).ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut fingerprint = String::with_capacity(64);
        for byte in digest.as_ref() {
            let _ = write!(fingerprint, "{byte:02x}");
        }
        let mut sans: Vec<String> = facts.names.iter().map(|n| format!("DNS:{n}")).collect();
        sans.extend(facts.other_sans);
        Some(ClientIdentity {
            subject: facts.subject,
            sans,
            fingerprint,
        })
    }

    /// The `X-Forwarded-Client-Cert` value in Envoy's element syntax:
    /// `Hash=<sha256>;Subject="<dn>";DNS=<name>;URI=<uri>`. Quotes and
    /// backslashes in the subject are escaped so it cannot break the syntax.
    pub fn header_value(&self) -> Option<HeaderValue> {
        let mut out = format!("Hash={}", self.fingerprint);
        let subject = self.subject.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = write!(out, ";Subject=\"{subject}\"");
        for san in &self.sans {
            if let Some(dns) = san.strip_prefix("DNS:") {
                let _ = write!(out, ";DNS={dns}");
            } else if let Some(uri) = san.strip_prefix("URI:") {
                let _ = write!(out, ";URI={uri}");
            }
        }
        // A value with control bytes is not forwarded at all rather than
        // forwarded altered: the backend must see the identity or nothing.
        HeaderValue::from_str(&out).ok()
    }
}

static XFCC: http::HeaderName = http::HeaderName::from_static("x-forwarded-client-cert");

/// Sets `X-Forwarded-Client-Cert` for the upstream. On a listener that asks
/// for client certificates a client-sent copy is always removed, trusted
/// peer or not: only this gateway verified the certificate. The verified
/// identity is then added when forwarding is on.
pub fn forward_client_cert(
    headers: &mut http::HeaderMap,
    listener: Option<&crate::tls::ListenerTls>,
    facts: Option<&TlsFacts>,
) {
    let Some(listener) = listener.filter(|l| l.client_auth) else {
        return;
    };
    headers.remove(&XFCC);
    if listener.forward_client_cert
        && let Some(value) = facts
            .and_then(|f| f.client.as_ref())
            .and_then(ClientIdentity::header_value)
    {
        headers.insert(XFCC.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::ClientIdentity;

    #[test]
    fn header_escapes_the_subject() {
        let id = ClientIdentity {
            subject: "CN=a\"b".into(),
            sans: vec!["DNS:x.example".into(), "URI:spiffe://t/ns/a".into()],
            fingerprint: "ab".into(),
        };
        let v = id
            .header_value()
            .map(|v| v.to_str().unwrap_or("").to_owned());
        assert_eq!(
            v.as_deref(),
            Some("Hash=ab;Subject=\"CN=a\\\"b\";DNS=x.example;URI=spiffe://t/ns/a")
        );
    }
}
