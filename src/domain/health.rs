//! Liveness: which component serves each part of the service, after a round
//! trip to the database proves it answers.

use crate::storage::{Storage, StorageError};

/// Component names as liveness reports them.
pub struct Services {
    pub storage: &'static str,
    pub ratelimit: &'static str,
    pub usagelimit: &'static str,
    pub analytics: &'static str,
    pub logger: &'static str,
    pub metrics: &'static str,
}

pub async fn check(storage: &Storage) -> Result<Services, StorageError> {
    storage.ping().await?;
    Ok(Services {
        storage: "sqlite",
        ratelimit: "in-process",
        usagelimit: "sqlite",
        analytics: "sqlite",
        logger: "bunyan-stderr",
        metrics: "none",
    })
}
