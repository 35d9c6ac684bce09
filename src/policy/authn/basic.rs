//! `basic`: HTTP Basic authentication against an htpasswd file. Slow hashes
//! (bcrypt, argon2) are verified on the blocking pool so they never stall
//! the proxy's threads, and a successful check is cached briefly (keyed by
//! a keyed hash of user and password). The file is checked for changes at
//! most once a second and reloaded when it changed; a file that no longer
//! parses keeps the last good users.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderName, HeaderValue, header};

use crate::config::spec_basic::BasicSpec;
use crate::policy::authn::cache::CredentialCache;
use crate::policy::authn::htpasswd::{self, Hash};
use crate::policy::principal::{AuthMethod, Principal};
use crate::policy::{PolicyInput, RequestContext};

/// How long a verified user:password pair is trusted without rehashing.
const CACHE_SECS: u64 = 60;
const CACHE_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub struct Basic {
    pub spec: BasicSpec,
    users: ArcSwap<HashMap<String, Hash>>,
    /// The file's modification time when it was last read.
    loaded_mtime: Mutex<Option<SystemTime>>,
    epoch: Instant,
    last_check_ms: AtomicU64,
    cache: CredentialCache<Principal>,
    user_header: Option<HeaderName>,
    policy: Arc<str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Authenticated(Arc<Principal>),
    Failed(&'static str),
}

fn read(path: &str) -> Result<(HashMap<String, Hash>, Option<SystemTime>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let users = htpasswd::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok((users, mtime))
}

impl Basic {
    pub fn compile(policy: &str, spec: &BasicSpec) -> Result<Self, String> {
        let (users, mtime) = read(&spec.htpasswd_file)?;
        let user_header = spec
            .user_header
            .as_deref()
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| "user_header: invalid header name".to_owned())
            })
            .transpose()?;
        Ok(Self {
            spec: spec.clone(),
            users: ArcSwap::from_pointee(users),
            loaded_mtime: Mutex::new(mtime),
            epoch: Instant::now(),
            last_check_ms: AtomicU64::new(0),
            cache: CredentialCache::new(CACHE_ENTRIES),
            user_header,
            policy: Arc::from(policy),
        })
    }

    /// Rereads the file when its modification time changed (checked at
    /// most once a second).
    fn reload_if_changed(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if (last != 0 && now.saturating_sub(last) < 1000)
            || self
                .last_check_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let path = &self.spec.htpasswd_file;
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let Ok(mut loaded) = self.loaded_mtime.lock() else {
            return;
        };
        if mtime == *loaded {
            return;
        }
        match read(path) {
            Ok((users, mtime)) => {
                self.users.store(Arc::new(users));
                *loaded = mtime;
                tracing::info!(file = %path, "htpasswd file reloaded");
            }
            Err(e) => {
                // Keep the last good users; retry after the next change.
                *loaded = mtime;
                tracing::warn!(error = %e, "htpasswd file not reloaded; keeping the last good users");
            }
        }
    }

    pub async fn authenticate(
        &self,
        input: &PolicyInput<'_>,
        ctx: &mut RequestContext,
        now: u64,
    ) -> Outcome {
        if let Some(name) = &self.user_header {
            ctx.upstream_headers.remove(name.clone());
        }
        self.reload_if_changed();
        let Some(credentials) = basic_credentials(input.headers) else {
            return Outcome::Failed("credentials_missing");
        };
        let principal = match self.cache.get(credentials.as_bytes(), now) {
            Some(p) => p,
            None => {
                let Some((user, password)) = credentials.split_once(':') else {
                    return Outcome::Failed("credentials_invalid");
                };
                let users = self.users.load_full();
                let Some(hash) = users.get(user).cloned() else {
                    return Outcome::Failed("credentials_invalid");
                };
                let password = password.as_bytes().to_vec();
                let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
                    .await
                    .unwrap_or(false);
                if !ok {
                    return Outcome::Failed("credentials_invalid");
                }
                let mut p = Principal::new(AuthMethod::Basic, Arc::clone(&self.policy), user);
                p.key_id = Some(user.to_owned());
                let p = Arc::new(p);
                self.cache.insert(
                    credentials.as_bytes(),
                    Arc::clone(&p),
                    now + CACHE_SECS,
                    now,
                );
                p
            }
        };
        if self.spec.strip_credentials {
            ctx.upstream_headers.remove(header::AUTHORIZATION);
        }
        if let Some(name) = &self.user_header
            && let Ok(value) = HeaderValue::from_str(&principal.subject)
        {
            ctx.upstream_headers.set(name.clone(), value);
        }
        Outcome::Authenticated(principal)
    }
}

/// `user:password` from `Authorization: Basic <base64>`.
fn basic_credentials(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::client_ip::ClientIp;

    async fn run(b: &Basic, auth: Option<&str>) -> Outcome {
        let mut headers = http::HeaderMap::new();
        if let Some(a) = auth {
            headers.insert("authorization", a.parse().unwrap());
        }
        let input = PolicyInput {
            client_ip: ClientIp::from_trusted_source("127.0.0.1".parse().unwrap()),
            client_cert: None,
            method: &http::Method::GET,
            host: "h",
            path: "/",
            query: None,
            target: "/",
            version: http::Version::HTTP_11,
            headers: &headers,
            route: "r",
            principal: None,
        };
        let mut ctx = RequestContext::default();
        b.authenticate(&input, &mut ctx, 1000).await
    }

    #[tokio::test]
    async fn users_verify_and_the_file_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
        let spec = BasicSpec {
            htpasswd_file: path.to_string_lossy().into_owned(),
            realm: "r".into(),
            strip_credentials: true,
            user_header: Some("x-user".into()),
        };
        let b = Basic::compile("basic", &spec).unwrap();
        let good = format!("Basic {}", STANDARD.encode("alice:pw"));
        let bad = format!("Basic {}", STANDARD.encode("alice:nope"));
        assert!(
            matches!(run(&b, Some(&good)).await, Outcome::Authenticated(p) if p.subject == "alice")
        );
        assert_eq!(
            run(&b, Some(&bad)).await,
            Outcome::Failed("credentials_invalid")
        );
        assert_eq!(run(&b, None).await, Outcome::Failed("credentials_missing"));
        assert_eq!(
            run(&b, Some("Basic !!!")).await,
            Outcome::Failed("credentials_missing")
        );
        // A new user appears once the file changes (mtime moves forward).
        let hash = bcrypt::hash("pw2", 4).unwrap();
        std::fs::write(&path, format!("bob:{hash}\n")).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        b.last_check_ms.store(0, Ordering::Relaxed);
        let bob = format!("Basic {}", STANDARD.encode("bob:pw2"));
        assert!(matches!(
            run(&b, Some(&bob)).await,
            Outcome::Authenticated(_)
        ));
    }
}
