//! What every handler reaches through `rqctx.context()`: the one state the
//! server builds at start (`crate::server`) and the handlers read. Its own
//! module, so that the handlers depend on it and not on the server that
//! registers them.

use crate::domain::sinch::Sinch;
use crate::domain::unkey::Unkey;
use crate::storage::Storage;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How long a request body may take to arrive, unless configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct ServerState {
    /// For shutdown and the tests' set-ups; handlers go through `unkey` and
    /// `sinch`, never to storage directly.
    pub storage: Storage,
    pub unkey: Arc<Unkey>,
    pub sinch: Arc<Sinch>,
    /// How long a request body may take to arrive.
    pub request_timeout: Duration,
    pub specs: ServedSpecs,
    /// Set when a shutdown begins: readiness answers 503 from then on.
    pub shutting_down: AtomicBool,
    /// What liveness reports as its metrics service: `prometheus` when
    /// `--metrics-bind` serves them, else `none`.
    pub metrics_service: &'static str,
}

/// The OpenAPI documents of the implemented traits, served as JSON.
#[derive(Debug)]
pub struct ServedSpecs {
    pub unkey: serde_json::Value,
    pub sinch: serde_json::Value,
}
