//! An access token kept in the store and shared by every instance on the
//! database, for providers whose token endpoint is rationed: one instance takes
//! the store's lock and fetches, the others wait for the token to appear; a
//! refusing endpoint starts a back-off, stored beside the token, during which no
//! instance calls it (base · 2^(n−1), at most a cap). A refresh token, when the
//! provider gives one, is stored with the access token and handed to the next
//! fetch, so an expired access token is renewed with it rather than with the
//! password.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{Hold, ProviderError};
use crate::secret::Secret;
use crate::store::Store;
use crate::time::Clock;

/// How long the fetching instance may hold the lock (it frees itself if that
/// instance dies); the others wait about as long for the token to appear.
const LOCK_MS: i64 = 30_000;

/// A token as fetched.
#[derive(Clone)]
pub struct Fetched {
    /// The access token.
    pub access: Secret,
    /// The refresh token, if the provider gave one.
    pub refresh: Option<Secret>,
    /// When to stop using the access token (epoch ms).
    pub expires_at: i64,
}

/// The back-off after refusals of the token endpoint, as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refused {
    failures: u32,
    until: i64,
    reason: String,
    /// A digest of the credentials refused: other credentials try at once.
    credentials: String,
}

/// The keys and the back-off of one provider's token.
pub struct SharedToken {
    store: Store,
    token_key: String,
    lock_key: String,
    refused_key: String,
    credentials: String,
    retry_base: Duration,
    retry_max: Duration,
    lock_owner: String,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<Fetched>>,
    hold: std::sync::Mutex<Option<Hold>>,
    label: &'static str,
}

impl SharedToken {
    /// A token stored under `prefix` (`baiwang.access_token`); `credentials` is
    /// a digest of what the token is fetched with.
    pub fn new(
        store: Store,
        prefix: &str,
        label: &'static str,
        credentials: String,
        retry_base: Duration,
        retry_max: Duration,
        clock: Arc<dyn Clock>,
    ) -> SharedToken {
        SharedToken {
            store,
            token_key: prefix.to_owned(),
            lock_key: format!("{prefix}.fetch"),
            refused_key: format!("{prefix}.refused"),
            credentials,
            retry_base,
            retry_max,
            lock_owner: format!("{label}-{}", crate::config::random_key()),
            clock,
            cached: Mutex::new(None),
            hold: std::sync::Mutex::new(None),
            label,
        }
    }

    /// The same keeper storing its token under another key (one seller's token
    /// among several: `nuonuo.{taxId}.access_token`).
    pub fn rekey(&mut self, prefix: &str) {
        self.token_key = prefix.to_owned();
        self.lock_key = format!("{prefix}.fetch");
        self.refused_key = format!("{prefix}.refused");
    }

    /// The store key of the token.
    pub fn key(&self) -> &str {
        &self.token_key
    }

    /// Stores a token obtained outside [`SharedToken::get`] (诺诺's
    /// authorization-code exchange) and ends any back-off.
    pub async fn put(&self, f: &Fetched) -> Result<(), crate::store::StoreError> {
        let mut v = json!({ "token": f.access.expose(), "expiresAt": f.expires_at });
        if let Some(r) = &f.refresh {
            v["refresh"] = json!(r.expose());
        }
        self.store.kv_set(&self.token_key, &v.to_string()).await?;
        self.store.kv_set(&self.refused_key, "{}").await?;
        *self.cached.lock().await = Some(f.clone());
        self.set_hold(None);
        Ok(())
    }

    /// The same keeper on another clock.
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The back-off in force, if any (what the provider's `hold` reports).
    pub fn hold(&self) -> Option<Hold> {
        self.hold
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|h| h.until_ms > self.now())
    }

    /// Learns the back-off stored by another instance (or that it ended)
    /// without calling the token endpoint: what [`SharedToken::hold`] reports
    /// on an instance that has not tried a token call since.
    pub async fn sync_hold(&self) {
        match self.refused().await {
            Some(r) => {
                let _ = self.held_error(&r);
            }
            None => self.set_hold(None),
        }
    }

    fn set_hold(&self, h: Option<Hold>) {
        *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = h;
    }

    async fn stored(&self) -> Option<(Value, bool)> {
        let (value, _) = self.store.kv_get(&self.token_key).await.ok().flatten()?;
        let v = serde_json::from_str::<Value>(&value).ok()?;
        let valid =
            v["token"].as_str().is_some_and(|t| !t.is_empty()) && v["expiresAt"].as_i64().unwrap_or(0) > self.now();
        Some((v, valid))
    }

    fn fetched_of(v: &Value) -> Option<Fetched> {
        Some(Fetched {
            access: Secret::new(v["token"].as_str().filter(|t| !t.is_empty())?),
            refresh: v["refresh"].as_str().filter(|t| !t.is_empty()).map(Secret::new),
            expires_at: v["expiresAt"].as_i64().unwrap_or(0),
        })
    }

    async fn refused(&self) -> Option<Refused> {
        let (value, _) = self.store.kv_get(&self.refused_key).await.ok().flatten()?;
        let r: Refused = serde_json::from_str(&value).ok()?;
        (r.credentials == self.credentials && r.until > self.now()).then_some(r)
    }

    async fn refusals(&self) -> u32 {
        let Ok(Some((value, _))) = self.store.kv_get(&self.refused_key).await else {
            return 0;
        };
        serde_json::from_str::<Refused>(&value)
            .ok()
            .filter(|r| r.credentials == self.credentials)
            .map(|r| r.failures)
            .unwrap_or(0)
    }

    fn held_error(&self, r: &Refused) -> ProviderError {
        self.set_hold(Some(Hold {
            until_ms: r.until,
            reason: r.reason.clone(),
            failures: r.failures,
        }));
        ProviderError::Unavailable(format!(
            "{}; next try in {} s",
            r.reason,
            (r.until - self.now()).max(0) / 1000
        ))
    }

    async fn record_refusal(&self, reason: &str) -> Refused {
        let failures = self.refusals().await.saturating_add(1);
        let base = self.retry_base.as_millis() as i64;
        let cap = self.retry_max.as_millis() as i64;
        let wait = base.saturating_mul(1i64 << (failures - 1).min(20)).min(cap).max(1);
        let r = Refused {
            failures,
            until: self.now() + wait,
            reason: reason.to_owned(),
            credentials: self.credentials.clone(),
        };
        let _ = self
            .store
            .kv_set(&self.refused_key, &serde_json::to_string(&r).unwrap_or_default())
            .await;
        tracing::error!(
            provider = self.label,
            failures,
            next_try_s = wait / 1000,
            reason,
            "token endpoint failed; no token call before the next try"
        );
        r
    }

    /// The access token: from memory, else from the store, else fetched by
    /// `fetch`, which gets the stored refresh token (if any).
    pub async fn get<F>(&self, fetch: F) -> Result<Secret, ProviderError>
    where
        F: FnOnce(Option<Secret>) -> BoxFuture<'static, Result<Fetched, ProviderError>>,
    {
        let mut cached = self.cached.lock().await;
        if let Some(f) = cached.as_ref() {
            if f.expires_at > self.now() {
                return Ok(f.access.clone());
            }
        }
        let deadline = crate::time::now_ms() + LOCK_MS + 5_000;
        loop {
            if let Some((v, true)) = self.stored().await {
                if let Some(f) = Self::fetched_of(&v) {
                    *cached = Some(f.clone());
                    self.set_hold(None);
                    return Ok(f.access);
                }
            }
            if let Some(r) = self.refused().await {
                return Err(self.held_error(&r));
            }
            match self.store.try_lock(&self.lock_key, &self.lock_owner, LOCK_MS).await {
                Ok(true) => break,
                Ok(false) if crate::time::now_ms() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Ok(false) => {
                    return Err(ProviderError::Unavailable(
                        "token: another instance is fetching it".into(),
                    ))
                }
                Err(e) => return Err(ProviderError::Unavailable(format!("token: {e}"))),
            }
        }
        let stored = self.stored().await;
        if let Some((v, true)) = &stored {
            if let Some(f) = Self::fetched_of(v) {
                let _ = self.store.unlock(&self.lock_key, &self.lock_owner).await;
                *cached = Some(f.clone());
                self.set_hold(None);
                return Ok(f.access);
            }
        }
        if let Some(r) = self.refused().await {
            let _ = self.store.unlock(&self.lock_key, &self.lock_owner).await;
            return Err(self.held_error(&r));
        }
        let refresh = stored.and_then(|(v, _)| v["refresh"].as_str().filter(|t| !t.is_empty()).map(Secret::new));
        let fetched = fetch(refresh).await;
        match &fetched {
            Ok(f) => {
                let mut v = json!({ "token": f.access.expose(), "expiresAt": f.expires_at });
                if let Some(r) = &f.refresh {
                    v["refresh"] = json!(r.expose());
                }
                let _ = self.store.kv_set(&self.token_key, &v.to_string()).await;
                let _ = self.store.kv_set(&self.refused_key, "{}").await;
                *cached = Some(f.clone());
                self.set_hold(None);
            }
            Err(e) => {
                let reason = match e {
                    ProviderError::Unavailable(m) => m.clone(),
                    other => other.to_string(),
                };
                let r = self.record_refusal(&reason).await;
                self.set_hold(Some(Hold {
                    until_ms: r.until,
                    reason: r.reason,
                    failures: r.failures,
                }));
            }
        }
        let _ = self.store.unlock(&self.lock_key, &self.lock_owner).await;
        fetched.map(|f| f.access)
    }

    /// Forgets a refused access token (the stored one only if it is that token:
    /// another instance may have stored a fresh one already). The refresh token
    /// stays, for the next fetch.
    pub async fn forget(&self, refused: &Secret) {
        *self.cached.lock().await = None;
        if let Some((mut v, _)) = self.stored().await {
            if v["token"].as_str() == Some(refused.expose()) {
                v["token"] = json!("");
                let _ = self.store.kv_set(&self.token_key, &v.to_string()).await;
            }
        }
    }
}
