//! Liveness: which component serves each part of the service. It does no
//! I/O, so it measures the HTTP stack alone and stays up while a dependency
//! is slow; storage failures show on the requests that need storage.
//!
//! Readiness: whether this node should get traffic. The server listens only
//! once the migrations are done, so it is ready while the database answers,
//! until a shutdown begins.

/// Component names as liveness reports them.
/// The metrics service is the server's to say (`--metrics-bind`).
pub struct Services {
    pub ratelimit: &'static str,
    pub usagelimit: &'static str,
    pub analytics: &'static str,
    pub logger: &'static str,
}

pub const SERVICES: Services = Services {
    ratelimit: "in-process",
    usagelimit: "sqlite",
    analytics: "sqlite",
    logger: "bunyan-stderr",
};

/// How long readiness waits for the database.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `Ok` when the node should get traffic; otherwise why not.
pub async fn readiness(
    storage: &crate::storage::Storage,
    shutting_down: bool,
) -> Result<(), String> {
    if shutting_down {
        return Err("shutting down".to_string());
    }
    match tokio::time::timeout(PING_TIMEOUT, storage.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the database does not answer: {e}")),
        Err(_) => Err(format!(
            "the database did not answer within {} s",
            PING_TIMEOUT.as_secs()
        )),
    }
}
