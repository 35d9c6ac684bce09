//! Logout: the logout path ends the server-side session, clears the
//! cookies and, when the provider publishes `end_session_endpoint` and
//! `provider_logout` is on, sends the browser there (RP-initiated logout,
//! with `id_token_hint`, `client_id` and `post_logout_redirect_uri`).

use std::sync::Arc;

use http::HeaderValue;

use crate::http::reject::Rejection;
use crate::net::http_client::percent_encode_into;
use crate::policy::PolicyInput;
use crate::policy::authn::oidc::Oidc;

impl Oidc {
    pub async fn logout(&self, policy: &Arc<str>, input: &PolicyInput<'_>, now: u64) -> Rejection {
        let session = self.session_id(input).and_then(|id| {
            let s = self.store.get(&id, now);
            self.store.delete(&id);
            s
        });
        let after = self
            .spec
            .post_logout_redirect_uri
            .clone()
            .unwrap_or_else(|| "/".to_owned());
        let mut location = after.clone();
        if self.spec.provider_logout
            && let Some(endpoints) = self.provider.endpoints().await
            && let Some(end) = endpoints.end_session_endpoint.as_deref()
        {
            location = end.to_owned();
            location.push(if end.contains('?') { '&' } else { '?' });
            location.push_str("client_id=");
            percent_encode_into(&self.spec.client_id, &mut location);
            if let Some(session) = &session {
                location.push_str("&id_token_hint=");
                percent_encode_into(&session.id_token, &mut location);
            }
            if self.spec.post_logout_redirect_uri.is_some() {
                location.push_str("&post_logout_redirect_uri=");
                percent_encode_into(&after, &mut location);
            }
        }
        let cookies = [&self.cookies.session_name, &self.cookies.login_name]
            .into_iter()
            .filter_map(|name| self.cookies.clear(name))
            .collect();
        Rejection::PolicyRedirect {
            policy: Arc::clone(policy),
            reason: "logged_out",
            location: HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
            cookies,
        }
    }
}
