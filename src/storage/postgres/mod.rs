//! The PostgreSQL backend, for more than one node: any number of keyward
//! processes on one database. A pool of connections; PostgreSQL's own row
//! locks keep spends exact across nodes, and each node commits its
//! concurrent spends in groups, as on SQLite (`crate::storage::spends`). Changes reach every node through LISTEN/NOTIFY
//! (`changes.rs`).

mod access_keys;
mod admin;
mod apis;
mod audit;
mod changes;
mod keys;
mod limits;
mod ratelimit_namespaces;
mod root_keys;
mod signing_key;
mod spends;
mod verifications;

use super::{Backend, Result};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Embedded migrations, run at every start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per node: with PostgreSQL's default `max_connections` of
/// 100, room for four nodes and the CLI.
const POOL_SIZE: u32 = 20;

#[derive(Debug)]
pub struct PgStorage {
    pool: PgPool,
    spends: crate::storage::spends::SpendQueue,
    key_inserts: crate::storage::key_inserts::KeyInsertQueue,
}

impl PgStorage {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<PgStorage> {
        // A statement waits for another's lock as long as SQLite's busy
        // timeout, and then fails as busy: the same answer on both backends.
        let options = PgConnectOptions::from_str(url)?.options([(
            "lock_timeout",
            format!("{}ms", super::BUSY_TIMEOUT.as_millis()),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(super::BUSY_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let spends =
            crate::storage::spends::SpendQueue::start(std::sync::Arc::new(spends::PgSpender {
                pool: pool.clone(),
            }));
        let key_inserts = crate::storage::key_inserts::KeyInsertQueue::start(std::sync::Arc::new(
            keys::PgInserter { pool: pool.clone() },
        ));
        Ok(PgStorage {
            pool,
            spends,
            key_inserts,
        })
    }
}

#[async_trait::async_trait]
impl Backend for PgStorage {
    async fn close(&self) {
        self.pool.close().await;
    }

    // Who may read the database is PostgreSQL's to decide.
    fn permission_warning(&self) -> Option<&str> {
        None
    }

    fn shared_limits(&self) -> Option<&dyn crate::storage::LimitStore> {
        Some(self)
    }
}

/// SQL: whether a key's refill is due (binds day start as `$day`, month
/// start as `$month`, by the numbers the caller passes).
macro_rules! refill_due {
    ($day:literal, $month:literal) => {
        concat!(
            "(refill_interval IS NOT NULL AND refill_amount IS NOT NULL
              AND (last_refill_at IS NULL
                   OR (refill_interval = 'daily' AND last_refill_at < $",
            $day,
            ")
                   OR (refill_interval = 'monthly' AND last_refill_at < $",
            $month,
            ")))"
        )
    };
}
pub(super) use refill_due;
