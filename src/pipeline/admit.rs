//! Stage 1, admit: who the client is, framing an HTTP/2 request could not
//! have been judged on, size limits, the host and the normalised path as
//! routing and policies see them — or the listener's HTTPS redirect.

use std::borrow::Cow;

use http::request::Parts;
use http::{HeaderValue, header};
use hyper::body::Incoming;

use crate::config::compile::ListenerRuntime;
use crate::config::spec_strict::PathStrictness;
use crate::http::normalize::{PathError, normalize_path};
use crate::http::reject::Rejection;
use crate::listener::client_ip::{ClientIp, resolve_client_ip};
use crate::observe::access_log::AccessRecord;
use crate::pipeline::{ConnectionInfo, Stop};

/// A request the gateway will route.
#[derive(Debug)]
pub(super) struct Admitted<'r> {
    pub client_ip: ClientIp,
    /// Lower-case, without port or trailing dot.
    pub host: Cow<'r, str>,
    /// Normalised (dot segments, slashes, unreserved escapes).
    pub path: Cow<'r, str>,
}

pub(super) fn admit<'r>(
    listener: &ListenerRuntime,
    conn: &ConnectionInfo,
    parts: &'r Parts,
    body: &Incoming,
    record: &mut AccessRecord,
) -> Result<Admitted<'r>, Stop> {
    let logging = listener.access_log.is_enabled();
    // Only trusted hops' X-Forwarded-For is believed.
    let client_ip = resolve_client_ip(conn.peer.0.ip(), &parts.headers, &listener.trusted);
    record.client_ip = Some(client_ip);

    // Framing the guard should already have refused; checked again here
    // because an HTTP/2 request never passes the HTTP/1 guard.
    if parts.headers.contains_key(header::TRANSFER_ENCODING)
        && parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        return Err(Rejection::BadRequest {
            reason: "cl_and_te",
        }
        .into());
    }

    // Size limits, before anything looks at the target or reads the body.
    // (Head size and header count are the framing guard's and hyper's: 431.)
    let target_len = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > listener.spec.http.max_uri_bytes {
        return Err(Rejection::UriTooLong.into());
    }
    if let Some(limit) = listener.spec.http.max_body_bytes
        && http_body::Body::size_hint(body).lower() > limit
    {
        return Err(Rejection::PayloadTooLarge.into());
    }

    let Some(host) = request_host(parts) else {
        return Err(Rejection::BadRequest { reason: "bad_host" }.into());
    };
    if logging {
        record.host.push_str(&host);
    }
    // A plain listener set to redirect answers before routing: nothing is
    // served in clear.
    if let Some(redirect) = &listener.spec.https_redirect {
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        if logging {
            record.path.push_str(parts.uri.path());
        }
        // No valid Location (a host that cannot be a header value): refuse
        // rather than fall through to serving in clear.
        return match crate::http::redirect::to_https(redirect, &parts.method, &host, target) {
            Some(response) => Err(Stop::Answer(Box::new(response))),
            None => Err(Rejection::BadRequest { reason: "bad_host" }.into()),
        };
    }
    // Strict mode first refuses spellings backends decode differently
    // (matrix parameters, double encoding, overlong UTF-8, fullwidth forms).
    if listener.spec.http.path_strictness == PathStrictness::Strict
        && let Err(e) = crate::http::path_strict::check(parts.uri.path())
    {
        if logging {
            record.path.push_str(parts.uri.path());
        }
        return Err(Rejection::BadRequest { reason: e.reason() }.into());
    }
    let path = match normalize_path(parts.uri.path(), listener.spec.http.encoded_slash) {
        Ok(p) => p,
        Err(e) => {
            if logging {
                record.path.push_str(parts.uri.path());
            }
            let reason = match e {
                PathError::EncodedSlash => "encoded_slash",
                _ => "bad_path",
            };
            return Err(Rejection::BadRequest { reason }.into());
        }
    };
    if logging {
        record.path.push_str(&path);
    }
    Ok(Admitted {
        client_ip,
        host,
        path,
    })
}

/// The host the request is for: the URI authority (HTTP/2, absolute-form)
/// or the Host header; lower-case, without port. `None` when malformed.
fn request_host(parts: &Parts) -> Option<Cow<'_, str>> {
    let raw = match parts.uri.authority() {
        // Userinfo is deprecated and a classic confusion trick (RFC 9110
        // §4.2.4: treat it as an error).
        Some(authority) if authority.as_str().contains('@') => return None,
        Some(authority) => authority.host(),
        None => match parts.headers.get(header::HOST) {
            Some(value) => {
                let text = value.to_str().ok()?;
                // Host is `uri-host [":" port]`; userinfo has no place in it.
                if text.contains('@') {
                    return None;
                }
                let authority: http::uri::Authority = text.parse().ok()?;
                // `host()` borrows from the temporary; fall back to slicing.
                let host_len = authority.host().len();
                if text.starts_with('[') {
                    text.get(..host_len)?
                } else {
                    text.split(':').next()?
                }
            }
            // HTTP/1.0 without Host: route as the empty host (any-host routes).
            None => "",
        },
    };
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(raw.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(raw))
    }
}

/// The Host value to send upstream: the target's authority when it has one
/// (absolute-form, where RFC 9112 §3.2.2 has a proxy ignore `Host`, and
/// HTTP/2's `:authority`), as routing used it; else the `Host` header.
pub(super) fn host_header(parts: &Parts) -> Option<HeaderValue> {
    if let Some(authority) = parts.uri.authority() {
        return HeaderValue::from_str(authority.as_str()).ok();
    }
    parts.headers.get(header::HOST).cloned()
}

/// The port the client named in the authority or `Host`, if any.
pub(super) fn request_port(parts: &Parts) -> Option<u16> {
    if let Some(authority) = parts.uri.authority() {
        return authority.port_u16();
    }
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    host.parse::<http::uri::Authority>().ok()?.port_u16()
}
