//! Refreshing a session's access token before it expires (refresh token
//! grant), one refresh in flight per session: concurrent requests of the
//! same session wait for it and use its result. A refused refresh ends the
//! session; an unreachable provider keeps the current tokens until the
//! next request tries again.

use std::sync::Arc;

use crate::policy::authn::oidc::Oidc;
use crate::policy::authn::oidc::provider::TokenError;
use crate::policy::authn::oidc::session::Session;

impl Oidc {
    /// The session to use for this request: `session` itself, or its
    /// refreshed successor; `None` when the session ended.
    pub async fn fresh_session(
        &self,
        policy: &Arc<str>,
        id: &[u8],
        session: Arc<Session>,
        now: u64,
    ) -> Option<Arc<Session>> {
        let due = now + self.spec.refresh_before.as_secs() >= session.access_expires;
        let Some(refresh_token) = session.refresh_token.as_deref().filter(|_| due) else {
            return Some(session);
        };
        let lock_holder = Arc::clone(&session);
        let _flight = lock_holder.refresh_lock.lock().await;
        // Another request refreshed (or ended) it while we waited.
        match self.store.get(id, now) {
            Some(current) if !Arc::ptr_eq(&current, &session) => return Some(current),
            Some(_) => {}
            None => return None,
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        match self.provider.token(&form).await {
            Ok(answer) => {
                // A new ID token, when sent, must verify (no nonce on refresh).
                let (claims, id_token) = match &answer.id_token {
                    Some(token) => match self.provider.verify_id_token(token, None, now).await {
                        Ok(claims) => (claims, token.clone()),
                        Err(reason) => {
                            tracing::warn!(reason, "refreshed ID token refused; session ended");
                            self.store.delete(id);
                            return None;
                        }
                    },
                    None => (session.principal.claims.clone(), session.id_token.clone()),
                };
                let mut next = super::flow::session_from(
                    policy,
                    &self.spec.roles_claim,
                    claims,
                    id_token,
                    answer,
                    now,
                    0,
                );
                // A refresh never extends the session past its end.
                next.expires = session.expires;
                if next.refresh_token.is_none() {
                    next.refresh_token = session.refresh_token.clone();
                }
                self.counters
                    .refreshed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let next = Arc::new(next);
                self.store.put(id, Arc::clone(&next), next.expires, now);
                Some(next)
            }
            Err(TokenError::Refused) => {
                self.store.delete(id);
                None
            }
            Err(TokenError::Unavailable) => {
                tracing::warn!("token refresh failed (provider unavailable); keeping the session");
                Some(session)
            }
        }
    }
}
