//! Rate limits kept in the database, for a backend that several nodes
//! share: a key's `consistent` token bucket, and `ratelimits.limit` windows
//! with `async: false`. The domain decides what a bucket does; storage keeps
//! its state under a lock while it does.

use super::Result;
use async_trait::async_trait;

/// A token bucket's state and the configuration it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRow {
    pub limit: i64,
    pub refill_rate: i64,
    pub refill_interval: i64,
    pub tokens: i64,
    /// Unix ms of the last refill.
    pub last_refill: i64,
}

/// The outcome of counting against a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub allowed: bool,
    /// What the window has counted, this request included when allowed.
    pub used: i64,
}

#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Runs `take` on a key's bucket (made `fresh` when there is none) with
    /// the bucket locked, stores what it leaves, and returns that with what
    /// `take` answered.
    async fn update_bucket(
        &self,
        key_id: &str,
        fresh: BucketRow,
        take: &(dyn for<'b> Fn(&'b mut BucketRow) -> bool + Send + Sync),
    ) -> Result<(BucketRow, bool)>;

    /// Counts `cost` in window number `window` of `counter` unless that
    /// passes `limit`; the window's row may go after `expires_at` (unix ms).
    async fn count_in_window(
        &self,
        counter: &[u8],
        window: i64,
        limit: i64,
        cost: i64,
        expires_at: i64,
    ) -> Result<WindowCount>;

    /// Deletes windows that ended before `now_ms`.
    async fn prune_windows(&self, now_ms: i64) -> Result<u64>;
}
