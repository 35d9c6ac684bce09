//! Upgraded connections (WebSocket and other `Upgrade` protocols): after
//! both sides switched protocols, bytes are copied both ways until either
//! side closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use crate::upstream::h1::conn::Connection;

/// Joins the client's upgraded connection with the upstream connection that
/// answered `101`, in a task of its own.
pub fn spawn(client: OnUpgrade, upstream: Connection) {
    tokio::spawn(async move {
        let client = match client.await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let (mut upstream, leftover) = upstream.into_parts();
        // Bytes the upstream sent right after its 101 belong to the client.
        if !leftover.is_empty() && client.write_all(&leftover).await.is_err() {
            return;
        }
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %e, "tunnel closed with an error");
        }
    });
}
