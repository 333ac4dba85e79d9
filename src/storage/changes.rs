//! The change log (`migrations/0003_changes.sql`): triggers record every
//! write to something a process may cache, in the write's own transaction,
//! and every process reads the log to drop what it cached.

use super::{Result, Storage};

/// A change that makes some cached copy stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key, by the hash of its secret.
    Key([u8; 32]),
    /// Roles or permissions changed: any cached key may be stale.
    AllKeys,
    /// A workspace was enabled or disabled.
    Workspace(String),
    /// An access key was renamed or deleted.
    AccessKey(String),
    /// A root key, by its hash, was revoked or lost permissions.
    RootKey([u8; 32]),
}

/// What [`Storage::changes_after`] found.
#[derive(Debug, Default)]
pub struct ChangeBatch {
    pub changes: Vec<Change>,
    /// The id to read after next time.
    pub last_id: i64,
    /// Changes this reader never saw were pruned: it must drop everything.
    pub missed: bool,
}

/// Changes read at most per call.
const BATCH: i64 = 1000;

fn hash_of(hex: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

fn change_of(kind: &str, entity: String) -> Option<Change> {
    Some(match kind {
        "key" => Change::Key(hash_of(&entity)?),
        "keys" => Change::AllKeys,
        "workspace" => Change::Workspace(entity),
        "access_key" => Change::AccessKey(entity),
        "root_key" => Change::RootKey(hash_of(&entity)?),
        _ => return None,
    })
}

impl Storage {
    /// The id of the newest change: where a new reader starts.
    pub async fn latest_change_id(&self) -> Result<i64> {
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// The changes after `after`, oldest first. A kind this version does
    /// not know is read as [`Change::AllKeys`], the safe side.
    pub async fn changes_after(&self, after: i64) -> Result<ChangeBatch> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, kind, entity FROM changes WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after)
                .bind(BATCH)
                .fetch_all(&self.pool)
                .await?;
        let Some(&(first, _, _)) = rows.first() else {
            return Ok(ChangeBatch {
                last_id: after,
                ..ChangeBatch::default()
            });
        };
        // Ids are consecutive (one writer at a time, AUTOINCREMENT): a hole
        // after what this reader saw means the log was pruned past it.
        let missed = after > 0 && first != after + 1;
        let last_id = rows.last().map_or(after, |(id, _, _)| *id);
        let changes = rows
            .into_iter()
            .map(|(_, kind, entity)| change_of(&kind, entity).unwrap_or(Change::AllKeys))
            .collect();
        Ok(ChangeBatch {
            changes,
            last_id,
            missed,
        })
    }

    /// Deletes changes older than `before_ms`; a reader that fell further
    /// behind sees `missed`.
    pub async fn prune_changes(&self, before_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM changes WHERE created_at < ? AND id < (SELECT MAX(id) FROM changes)",
        )
        .bind(before_ms)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_back_from_their_rows() {
        let hash = [0xabu8; 32];
        let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(change_of("key", hex), Some(Change::Key(hash)));
        assert_eq!(change_of("keys", String::new()), Some(Change::AllKeys));
        assert_eq!(
            change_of("workspace", "ws_1".into()),
            Some(Change::Workspace("ws_1".into()))
        );
        assert_eq!(change_of("key", "zz".into()), None);
    }
}
