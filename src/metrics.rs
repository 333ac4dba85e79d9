//! What keyward is doing right now, in the Prometheus text format
//! (`--metrics-bind`). One [`Metrics`] per server; the domain records into
//! the handles it is given, which are counters and histograms shared with
//! the registry (an atomic add, or a short lock for a histogram).
//!
//! Every label value comes from a fixed set: an operation id, a status, an
//! outcome code, a cache's name. No key, secret, id or other unbounded value
//! is ever a label.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// Seconds, from 100 µs to about 13 s: a hot verify answers in well under a
/// millisecond, a stalled write in seconds.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.5, 14)
}

/// Requests by operation and status, each with a counter and a latency
/// histogram. A request costs one fast hash of its operation id and a scan
/// of the operation's few statuses: prometheus-client's `Family` hashed both
/// labels with SipHash, twice, which cost about 1,200 instructions, 2% of a
/// hot verify (callgrind).
#[derive(Debug, Default)]
struct RequestSeries {
    by_operation: RwLock<HashMap<String, Vec<StatusSeries>, foldhash::fast::RandomState>>,
}

#[derive(Debug, Clone)]
struct StatusSeries {
    status: u16,
    count: Counter,
    duration: Histogram,
}

impl RequestSeries {
    fn record(&self, operation: &str, status: u16, latency: f64) {
        let observe = |series: &StatusSeries| {
            series.count.inc();
            series.duration.observe(latency);
        };
        {
            let by_operation = self.by_operation.read().unwrap_or_else(|e| e.into_inner());
            if let Some(series) = by_operation
                .get(operation)
                .and_then(|statuses| statuses.iter().find(|s| s.status == status))
            {
                return observe(series);
            }
        }
        // The first of its operation and status: the only write.
        let mut by_operation = self.by_operation.write().unwrap_or_else(|e| e.into_inner());
        let statuses = by_operation.entry(operation.to_string()).or_default();
        if !statuses.iter().any(|s| s.status == status) {
            statuses.push(StatusSeries {
                status,
                count: Counter::default(),
                duration: Histogram::new(latency_buckets()),
            });
        }
        if let Some(series) = statuses.iter().find(|s| s.status == status) {
            observe(series);
        }
    }

    /// Every series, by operation (sorted) and status.
    fn each(
        &self,
        mut each: impl FnMut(&str, &StatusSeries) -> Result<(), std::fmt::Error>,
    ) -> Result<(), std::fmt::Error> {
        let by_operation = self.by_operation.read().unwrap_or_else(|e| e.into_inner());
        let mut operations: Vec<_> = by_operation.iter().collect();
        operations.sort_by(|a, b| a.0.cmp(b.0));
        for (operation, statuses) in operations {
            for series in statuses {
                each(operation, series)?;
            }
        }
        Ok(())
    }
}

/// `keyward_http_requests_total` and `keyward_http_request_duration_seconds`:
/// the one [`RequestSeries`], rendered as two families.
#[derive(Debug)]
enum RequestFamily {
    Counts(Arc<RequestSeries>),
    Durations(Arc<RequestSeries>),
}

impl prometheus_client::encoding::EncodeMetric for RequestFamily {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        let (Self::Counts(series) | Self::Durations(series)) = self;
        series.each(|operation, series| {
            let status = series.status.to_string();
            let labels = [("operation", operation), ("status", status.as_str())];
            let encoder = encoder.encode_family(&labels)?;
            match self {
                Self::Counts(_) => series.count.encode(encoder),
                Self::Durations(_) => series.duration.encode(encoder),
            }
        })
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        match self {
            Self::Counts(_) => prometheus_client::metrics::MetricType::Counter,
            Self::Durations(_) => prometheus_client::metrics::MetricType::Histogram,
        }
    }
}

/// Counters over a fixed set of label values, all known at start: a
/// recording finds its counter among a handful and adds one, with no label
/// hashing and no lock.
#[derive(Clone, Debug)]
pub struct FixedCounters {
    names: &'static [&'static str],
    rows: Vec<(Vec<&'static str>, Counter)>,
}

impl FixedCounters {
    /// One counter per combination of `values`, one list per label name.
    fn new(names: &'static [&'static str], values: &[&[&'static str]]) -> FixedCounters {
        let mut rows: Vec<Vec<&'static str>> = vec![Vec::new()];
        for label_values in values {
            rows = rows
                .into_iter()
                .flat_map(|row| {
                    label_values.iter().map(move |value| {
                        let mut row = row.clone();
                        row.push(*value);
                        row
                    })
                })
                .collect();
        }
        FixedCounters {
            names,
            rows: rows
                .into_iter()
                .map(|row| (row, Counter::default()))
                .collect(),
        }
    }

    /// Adds one to the counter of `values`. Values outside the set are a
    /// bug: the tests (debug builds) stop on one; a release build does not
    /// count it.
    pub fn inc(&self, values: &[&str]) {
        match self.rows.iter().find(|(row, _)| row == values) {
            Some((_, counter)) => {
                counter.inc();
            }
            None => debug_assert!(false, "{values:?} is not among {:?}", self.names),
        }
    }
}

impl prometheus_client::encoding::EncodeMetric for FixedCounters {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        for (values, counter) in &self.rows {
            let labels: Vec<(&str, &str)> = self
                .names
                .iter()
                .copied()
                .zip(values.iter().copied())
                .collect();
            counter.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Counter
    }
}

/// A cache's hit and miss counters.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    hits: Counter,
    misses: Counter,
}

impl CacheStats {
    pub fn hit(&self) {
        self.hits.inc();
    }

    pub fn miss(&self) {
        self.misses.inc();
    }
}

/// verifyKey's codes.
pub const VERIFICATION_CODES: &[&str] = &[
    "VALID",
    "NOT_FOUND",
    "DISABLED",
    "FORBIDDEN",
    "INSUFFICIENT_PERMISSIONS",
    "RATE_LIMITED",
    "USAGE_EXCEEDED",
];

/// What the Unkey domain records.
#[derive(Clone, Debug)]
pub struct UnkeyMetrics {
    pub verifications: FixedCounters,
    pub ratelimit_decisions: FixedCounters,
    pub flush_duration: Histogram,
    pub flushed_rows: Counter,
    pub key_cache: CacheStats,
    pub root_key_cache: CacheStats,
    pub namespace_cache: CacheStats,
    pub api_cache: CacheStats,
    /// Keys the key index holds, and whether it is complete (1) or loading.
    pub key_index_keys: Gauge,
    pub key_index_complete: Gauge,
}

impl Default for UnkeyMetrics {
    fn default() -> UnkeyMetrics {
        UnkeyMetrics {
            verifications: FixedCounters::new(&["code"], &[VERIFICATION_CODES]),
            ratelimit_decisions: FixedCounters::new(
                &["limiter", "result"],
                &[&["key", "namespace"], &["allowed", "denied"]],
            ),
            flush_duration: Histogram::new(latency_buckets()),
            flushed_rows: Counter::default(),
            key_cache: CacheStats::default(),
            root_key_cache: CacheStats::default(),
            namespace_cache: CacheStats::default(),
            api_cache: CacheStats::default(),
            key_index_keys: Gauge::default(),
            key_index_complete: Gauge::default(),
        }
    }
}

impl UnkeyMetrics {
    /// A verification's outcome, by the code verifyKey answers with.
    pub fn verified(&self, code: &'static str) {
        self.verifications.inc(&[code]);
    }

    /// A rate limit's decision: `limiter` is `key` (a key's own limit) or
    /// `namespace` (`ratelimits.limit`).
    pub fn ratelimit_decided(&self, limiter: &'static str, allowed: bool) {
        let result = if allowed { "allowed" } else { "denied" };
        self.ratelimit_decisions.inc(&[limiter, result]);
    }
}

/// The results a token request is counted under.
pub const TOKEN_RESULTS: &[&str] = &[
    "issued",
    "reused",
    "invalid_client",
    "invalid_request",
    "unsupported_grant_type",
    "error",
];

/// What the Sinch domain records.
#[derive(Clone, Debug)]
pub struct SinchMetrics {
    pub tokens: FixedCounters,
    pub access_key_cache: CacheStats,
    pub verified_token_cache: CacheStats,
}

impl Default for SinchMetrics {
    fn default() -> SinchMetrics {
        SinchMetrics {
            tokens: FixedCounters::new(&["result"], &[TOKEN_RESULTS]),
            access_key_cache: CacheStats::default(),
            verified_token_cache: CacheStats::default(),
        }
    }
}

impl SinchMetrics {
    /// A token request's result: `issued`, `reused` (the same token again
    /// within its second), or why it was refused.
    pub fn token(&self, result: &'static str) {
        self.tokens.inc(&[result]);
    }
}

/// The kinds of database error counted (see
/// [`crate::storage::StorageError::kind`]).
pub const DATABASE_ERROR_KINDS: &[&str] = &["busy", "unique_violation", "other"];

/// What storage records. Storage is shared by the whole process (and the
/// queue and errors below are the database's, not a server's), so this one
/// is process-wide.
#[derive(Clone, Debug)]
pub struct StorageMetrics {
    pub spend_queue_depth: Gauge,
    pub spend_group_size: Histogram,
    pub key_insert_group_size: Histogram,
    pub log_restart_hold: Histogram,
    pub database_errors: FixedCounters,
}

pub static STORAGE: LazyLock<StorageMetrics> = LazyLock::new(|| StorageMetrics {
    spend_queue_depth: Gauge::default(),
    // 1 to 512: a group takes at most 512 spends.
    spend_group_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
    // 1 to 256: a group takes at most 256 keys.
    key_insert_group_size: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
    // 0.5 ms to 256 ms.
    log_restart_hold: Histogram::new(exponential_buckets(0.0005, 2.0, 10)),
    database_errors: FixedCounters::new(&["kind"], &[DATABASE_ERROR_KINDS]),
});

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// A server's metrics and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Arc<RequestSeries>,
    connections_open: Gauge,
    connections_refused: Counter,
    pub unkey: UnkeyMetrics,
    pub sinch: SinchMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("keyward");
        let requests = Arc::new(RequestSeries::default());
        let connections_open = Gauge::default();
        let connections_refused = Counter::default();
        let unkey = UnkeyMetrics::default();
        let sinch = SinchMetrics::default();
        let storage = STORAGE.clone();

        registry.register(
            "http_requests",
            "Requests answered, by operation id and status",
            RequestFamily::Counts(Arc::clone(&requests)),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by operation id and status",
            RequestFamily::Durations(Arc::clone(&requests)),
        );
        registry.register(
            "http_connections_open",
            "Open client connections",
            connections_open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections closed at once because every open one was busy at --max-connections",
            connections_refused.clone(),
        );
        registry.register(
            "verifications",
            "Key verifications, by the code verifyKey answered",
            unkey.verifications.clone(),
        );
        registry.register(
            "ratelimit_decisions",
            "Rate-limit decisions: limiter is key (a key's own limit) or namespace (ratelimits.limit)",
            unkey.ratelimit_decisions.clone(),
        );
        registry.register(
            "cache_lookups",
            "Cache lookups, by cache and result (hit or miss)",
            CacheFamily {
                caches: vec![
                    ("keys", unkey.key_cache.clone()),
                    ("root_keys", unkey.root_key_cache.clone()),
                    ("ratelimit_namespaces", unkey.namespace_cache.clone()),
                    ("apis", unkey.api_cache.clone()),
                    ("access_keys", sinch.access_key_cache.clone()),
                    ("verified_tokens", sinch.verified_token_cache.clone()),
                ],
            },
        );
        registry.register(
            "key_index_keys",
            "Keys in the in-memory index of which keys exist",
            unkey.key_index_keys.clone(),
        );
        registry.register(
            "key_index_complete",
            "1 once the key index is loaded: a verify of an unknown key then reads nothing",
            unkey.key_index_complete.clone(),
        );
        registry.register(
            "counts_flush_duration_seconds",
            "Time to write the pending verification counts to the database",
            unkey.flush_duration.clone(),
        );
        registry.register(
            "counts_flushed_rows",
            "Rows of verification counts written",
            unkey.flushed_rows.clone(),
        );
        registry.register(
            "tokens",
            "POST /oauth2/token answers, by result: issued, reused, or why it was refused",
            sinch.tokens.clone(),
        );
        registry.register(
            "spend_queue_depth",
            "Usage-limited verifications waiting for their group commit (process-wide)",
            storage.spend_queue_depth,
        );
        registry.register(
            "spend_group_size",
            "Spends committed together in one group (process-wide)",
            storage.spend_group_size,
        );
        registry.register(
            "key_insert_group_size",
            "Keys without roles committed together in one group by createKey (process-wide)",
            storage.key_insert_group_size,
        );
        registry.register(
            "sqlite_log_restart_hold_seconds",
            "How long SQLite's checkpointer held writes to start the write-ahead log over (process-wide)",
            storage.log_restart_hold,
        );
        registry.register(
            "database_errors",
            "Errors the database returned, by kind (process-wide)",
            storage.database_errors,
        );

        Metrics {
            registry,
            requests,
            connections_open,
            connections_refused,
            unkey,
            sinch,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl dropshot::ServerObserver for Metrics {
    fn request_done(&self, operation_id: Option<&str>, status: u16, latency: Duration) {
        // `unmatched`: no route matched (a 404 or 405 of the router's).
        let operation = operation_id.unwrap_or("unmatched");
        self.requests
            .record(operation, status, latency.as_secs_f64());
    }

    fn connections_open(&self, open: usize) {
        self.connections_open
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    fn connection_refused(&self) {
        self.connections_refused.inc();
    }
}

/// The cache counters as one family, labelled at scrape time.
#[derive(Debug)]
struct CacheFamily {
    caches: Vec<(&'static str, CacheStats)>,
}

impl prometheus_client::encoding::EncodeMetric for CacheFamily {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        for (cache, stats) in &self.caches {
            for (result, counter) in [("hit", &stats.hits), ("miss", &stats.misses)] {
                let labels = [("cache", *cache), ("result", result)];
                counter.encode(encoder.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Counter
    }
}
