//! Verification outcomes per key and UTC day, written in batches.

use super::Result;
use async_trait::async_trait;

/// Outcome counts of one key on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyCounts {
    pub day: i64,
    pub success: i64,
    pub rate_limited: i64,
    pub usage_exceeded: i64,
}

/// Counts to add for one key and day; the ids are the caller's.
#[derive(Debug, Clone)]
pub struct CountsDelta<'a> {
    pub key_id: &'a str,
    pub workspace_id: &'a str,
    pub counts: DailyCounts,
}

#[async_trait]
pub trait VerificationStore {
    /// Adds a batch of counts, in one transaction.
    async fn add_verification_counts(&self, batch: &[CountsDelta<'_>]) -> Result<()>;

    /// Daily counts summed over `key_ids` of the workspace, for days in
    /// `[start, end]`, ordered by day.
    async fn verification_counts(
        &self,
        workspace_id: &str,
        key_ids: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<DailyCounts>>;
}
