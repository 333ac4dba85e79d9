//! Key verification, the hot path. A key without limits costs a cache hit
//! (or, on a miss, one indexed lookup); a usage-limited key adds one short
//! write; nothing here grows with the number of keys.
//!
//! Checks run in this order (keyward's contract for verifyKey), the first failing one
//! deciding: not found, deleted or expired → workspace disabled (an error) →
//! disabled → api mismatch → permissions → per-key ratelimit → remaining.

use super::analytics::Outcome;
use super::key_cache::CachedKey;
use super::permissions::Query;
use super::ratelimit::{self, Decision};
use super::{Error, Result, Unkey};
use crate::domain::secrets;
use crate::storage::{BucketRow, KeyRatelimit, RatelimitKind, Spend};
use std::sync::Arc;

/// How long a verify of a key the index does not know waits for the change
/// feed before it reads storage instead.
const CHANGE_SYNC_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Why a key did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    NotFound,
    Disabled,
    Forbidden,
    InsufficientPermissions,
    RateLimited,
    UsageExceeded,
}

/// The outcome of a verification.
#[derive(Debug)]
pub struct Verification {
    /// The key, when it was identified (not for `NotFound`).
    pub key: Option<Arc<CachedKey>>,
    /// `None` when the key is valid.
    pub denial: Option<Denial>,
    /// Uses left after this one, for a usage-limited key.
    pub remaining: Option<i64>,
    /// The key's bucket after this request, for a rate-limited key.
    pub ratelimit: Option<Decision>,
}

impl Denial {
    pub const ALL: [Denial; 6] = [
        Denial::NotFound,
        Denial::Disabled,
        Denial::Forbidden,
        Denial::InsufficientPermissions,
        Denial::RateLimited,
        Denial::UsageExceeded,
    ];

    /// The code verifyKey answers with.
    pub fn code(self) -> &'static str {
        match self {
            Denial::NotFound => "NOT_FOUND",
            Denial::Disabled => "DISABLED",
            Denial::Forbidden => "FORBIDDEN",
            Denial::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Denial::RateLimited => "RATE_LIMITED",
            Denial::UsageExceeded => "USAGE_EXCEEDED",
        }
    }
}

impl Verification {
    fn denied(key: Option<Arc<CachedKey>>, denial: Denial) -> Verification {
        Verification {
            key,
            denial: Some(denial),
            remaining: None,
            ratelimit: None,
        }
    }
}

impl Unkey {
    /// Verifies a key. Needs no root key. `permissions` is the caller's
    /// permission query, if any; an invalid one is a 400, but only for a key
    /// that gets that far.
    pub async fn verify_key(
        &self,
        key: &str,
        api_id: Option<&str>,
        permissions: Option<&serde_json::Value>,
        cost: i64,
    ) -> Result<Verification> {
        let verification = self.verify(key, api_id, permissions, cost).await?;
        self.metrics
            .verified(verification.denial.map_or("VALID", Denial::code));
        Ok(verification)
    }

    async fn verify(
        &self,
        key: &str,
        api_id: Option<&str>,
        permissions: Option<&serde_json::Value>,
        cost: i64,
    ) -> Result<Verification> {
        let now = self.now();
        let Some(cached) = self.cached_key(key).await? else {
            return Ok(Verification::denied(None, Denial::NotFound));
        };
        if cached.expires_at.is_some_and(|expires| expires <= now) {
            // An expired key is simply gone.
            return Ok(Verification::denied(None, Denial::NotFound));
        }
        if self.workspace_disabled(&cached.workspace_id)? {
            return Err(Error::Denied("workspace is disabled".into()));
        }
        if !cached.enabled {
            return Ok(Verification::denied(Some(cached), Denial::Disabled));
        }
        if api_id.is_some_and(|api_id| api_id != &*cached.api_id) {
            return Ok(Verification::denied(Some(cached), Denial::Forbidden));
        }
        if let Some(query) = permissions {
            let query = Query::parse(query).map_err(|e| {
                Error::Invalid(format!("authorization.permissions: invalid query: {e}"))
            })?;
            if !query.allows(&|p| cached.permissions.iter().any(|held| held == p)) {
                return Ok(Verification::denied(
                    Some(cached),
                    Denial::InsufficientPermissions,
                ));
            }
        }

        let ratelimit = match cached.ratelimit.as_deref().copied() {
            Some(config) => {
                let decision = self.take_tokens(&cached.id, config, cost, now).await?;
                self.metrics.ratelimit_decided("key", decision.allowed);
                Some(decision)
            }
            None => None,
        };
        if ratelimit.is_some_and(|decision| !decision.allowed) {
            self.counts.record(&cached, now, Outcome::RateLimited);
            return Ok(Verification {
                key: Some(cached),
                denial: Some(Denial::RateLimited),
                remaining: None,
                ratelimit,
            });
        }

        let remaining = if cached.limited {
            match self
                .storage
                .spend_key(&cached.id, now, super::refill_boundaries(now))
                .await?
            {
                Spend::Spent(left) => Some(left),
                Spend::Exhausted => {
                    self.counts.record(&cached, now, Outcome::UsageExceeded);
                    return Ok(Verification {
                        key: Some(cached),
                        denial: Some(Denial::UsageExceeded),
                        remaining: Some(0),
                        ratelimit,
                    });
                }
            }
        } else {
            None
        };
        self.counts.record(&cached, now, Outcome::Success);
        Ok(Verification {
            key: Some(cached),
            denial: None,
            remaining,
            ratelimit,
        })
    }

    /// Takes `cost` tokens of a key's bucket: in this process, or for a
    /// `consistent` limit on a database that several nodes share, in the
    /// database, where every node takes from the same bucket.
    async fn take_tokens(
        &self,
        key_id: &str,
        config: KeyRatelimit,
        cost: i64,
        now: i64,
    ) -> Result<Decision> {
        match self.storage.shared_limits() {
            Some(shared) if config.kind == RatelimitKind::Consistent => {
                let take =
                    move |bucket: &mut BucketRow| ratelimit::take_tokens(bucket, config, cost, now);
                let (bucket, allowed) = shared
                    .update_bucket(key_id, ratelimit::full_bucket(config, now), &take)
                    .await?;
                Ok(ratelimit::bucket_decision(&bucket, allowed))
            }
            _ => Ok(self.buckets.take(key_id, config, cost, now)),
        }
    }

    /// Whether the index still does not know `hash` once every change
    /// committed before this request has reached it: a key created through
    /// another process verifies here as soon as its createKey answered.
    /// When nothing was committed since the change feed's last read (SQLite
    /// can tell from memory), it has; otherwise the requests waiting together
    /// share one read of the feed. If the feed does not answer in time,
    /// storage decides.
    async fn no_key_created_elsewhere(&self, hash: &[u8; 32]) -> bool {
        if self
            .change_sync
            .nothing_committed_since(self.storage.commit_watermark())
        {
            return true;
        }
        let caught_up = self.change_sync.caught_up();
        tokio::time::timeout(CHANGE_SYNC_WAIT, caught_up)
            .await
            .is_ok()
            && !self.index.may_exist(hash)
    }

    /// The key with this secret, from the cache or else from storage.
    async fn cached_key(&self, key: &str) -> Result<Option<Arc<CachedKey>>> {
        let hash = secrets::hash(key);
        if !self.index.may_exist(&hash) && self.no_key_created_elsewhere(&hash).await {
            return Ok(None);
        }
        let load = async {
            Ok(self
                .storage
                .find_key_by_hash(&hash)
                .await?
                .map(|row| CachedKey::of_row(row, Arc::from)))
        };
        self.cache.get_or_load(&hash, load).await
    }
}

#[cfg(test)]
mod tests {
    use super::Denial;

    #[test]
    fn the_metrics_count_every_code() {
        for code in Denial::ALL.map(Denial::code).into_iter().chain(["VALID"]) {
            assert!(
                crate::metrics::VERIFICATION_CODES.contains(&code),
                "{code} is not counted"
            );
        }
        assert_eq!(
            crate::metrics::VERIFICATION_CODES.len(),
            Denial::ALL.len() + 1
        );
    }
}
