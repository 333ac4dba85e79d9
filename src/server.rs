//! Builds and runs the one dropshot server that serves both APIs.

use crate::api::context::{ServedSpecs, ServerState};
use crate::api::sinch_access_keys::SinchAccessKeysService;
use crate::api::unkey::UnkeyService;
use crate::domain::admin::{self, Bootstrap};
use crate::domain::clock::Clock;
use crate::domain::sinch::signing::{KEY_FILE_HOLDS, KeySource};
use crate::domain::sinch::{Settings as SinchSettings, Sinch};
use crate::domain::unkey::Unkey;
use crate::generated::{sinch_access_keys, unkey};
use crate::metrics::Metrics;
use crate::storage::Storage;
use anyhow::Context;
use dropshot::{
    ApiDescription, ApiEndpoint, ApiEndpointVersions, ConfigDropshot, ConfigLoggingLevel,
    HttpError, HttpResponseOk, HttpServer, Path, RequestContext, ServerBuilder,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Request bodies above this size are refused with a 400 in the API's shape.
pub const REQUEST_BODY_MAX_BYTES: usize = 64 * 1024;

pub use crate::api::context::DEFAULT_REQUEST_TIMEOUT;

/// File descriptors kept back from connections when their cap is derived
/// from the open-file limit: the database's connections (each holds the
/// database and its log), the listener, the logs and the runtime.
const RESERVED_FILES: usize = 100;

/// What a server allows its clients, and how long it waits for them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's head must arrive within this of its first byte (or of
    /// the connection, for the first request), and its body within this of
    /// the handler asking for it.
    pub request_timeout: Duration,
    /// A connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// How long requests in flight may finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// How long the server keeps serving, not ready, after SIGTERM: time
    /// for a load balancer to see `/readyz` fail and stop sending.
    pub drain: Duration,
    /// At most this many open connections; `None`: the open-file limit less
    /// [`RESERVED_FILES`].
    pub max_connections: Option<usize>,
    /// How many keys are cached for verification at most.
    pub key_cache_capacity: usize,
    /// How many `ratelimits.limit` counters are kept at most.
    pub max_ratelimit_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
            drain: Duration::ZERO,
            max_connections: None,
            key_cache_capacity: crate::domain::unkey::DEFAULT_KEY_CACHE_CAPACITY,
            max_ratelimit_entries: crate::domain::unkey::DEFAULT_MAX_RATELIMIT_ENTRIES,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub database_url: String,
    /// Fixes the root key created on an empty database.
    pub bootstrap_root_key: Option<String>,
    /// Fixes the access key (`id`, `secret`) created on an empty database.
    pub bootstrap_access_key: Option<(String, String)>,
    pub log_level: ConfigLoggingLevel,
    pub sinch: SinchSettings,
    /// Where the token signing keys are kept, instead of the database.
    pub token_signing_key_file: Option<PathBuf>,
    pub limits: Limits,
    /// Where `GET /metrics` is served; `None`: nowhere.
    pub metrics_bind: Option<SocketAddr>,
    /// How long the audit log keeps a change.
    pub audit_retention: Duration,
}

/// A started server.
pub struct RunningServer {
    pub server: HttpServer<ServerState>,
    /// Serves `GET /metrics`, with `--metrics-bind`.
    pub metrics_server: Option<HttpServer<Arc<Metrics>>>,
    /// The limiters' sweeper and counts writer, the change-log watcher, the
    /// key index's loader, the audit log's pruner and, with a key file, its watcher.
    background: Vec<tokio::task::JoinHandle<()>>,
    log: slog::Logger,
    shutdown_timeout: Duration,
    drain: Duration,
    /// What the start created on an empty database, secrets included.
    pub bootstrap: Option<Bootstrap>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Where `GET /metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(HttpServer::local_addr)
    }

    /// Stops accepting connections, gives requests in flight the shutdown
    /// timeout to finish and closes what is left, then writes the pending
    /// counts and closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let state = self.server.app_private();
        // Not ready first, while still serving, so that a load balancer
        // drains the node before it stops taking connections.
        state.shutting_down.store(true, Ordering::SeqCst);
        tokio::time::sleep(self.drain).await;
        let (storage, unkey) = (state.storage.clone(), Arc::clone(&state.unkey));
        match tokio::time::timeout(self.shutdown_timeout, self.server.close()).await {
            Ok(closed) => closed.map_err(anyhow::Error::msg)?,
            // What is left is cut off when the process exits.
            Err(_) => slog::warn!(
                self.log,
                "requests still in flight after the shutdown timeout are cut off";
                "shutdown_timeout_secs" => self.shutdown_timeout.as_secs_f64()
            ),
        }
        for task in &self.background {
            task.abort();
        }
        // Last, so that a scrape sees the shutdown through.
        if let Some(metrics_server) = self.metrics_server {
            metrics_server.close().await.map_err(anyhow::Error::msg)?;
        }
        unkey
            .flush()
            .await
            .context("writing the last verification counts")?;
        storage.close().await;
        Ok(())
    }
}

/// Bunyan JSON lines on stderr (structured, and easy to ship), written by a
/// thread of their own. The level filter comes before that thread, not
/// after it as in dropshot's `ConfigLogging`: there every request's
/// "request completed" record was copied, queued and then dropped at the
/// default level, and the logging thread's wake-ups and yields were ~6% of
/// the CPU at full load.
fn stderr_logger(level: slog::Level) -> slog::Logger {
    use slog::Drain as _;
    let json = slog_bunyan::with_name("keyward", std::io::LineWriter::new(std::io::stderr()))
        .build()
        .fuse();
    let queued = slog_async::Async::new(json).chan_size(1024).build().fuse();
    slog::Logger::root(slog::LevelFilter(queued, level).fuse(), slog::o!())
}

/// Opens the database (running migrations), bootstraps an empty one, and
/// starts serving.
pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    let log = stderr_logger(slog::Level::from(&config.log_level));
    crate::domain::sinch::signing::start_random_generator();

    let storage = Storage::open(&config.database_url)
        .await
        .with_context(|| format!("opening the database {}", config.database_url))?;
    if let Some(warning) = storage.permission_warning() {
        slog::warn!(log, "{warning}");
    }
    let bootstrap = admin::bootstrap(
        &storage,
        clock.now_ms(),
        config.bootstrap_root_key.clone(),
        config.bootstrap_access_key.clone(),
    )
    .await
    .context("bootstrapping the empty database")?;

    let limits = config.limits;
    let metrics = Arc::new(Metrics::new());
    let unkey = Arc::new(
        Unkey::new(
            storage.clone(),
            Arc::clone(&clock),
            limits.key_cache_capacity,
            limits.max_ratelimit_entries,
            metrics.unkey.clone(),
        )
        .await?,
    );
    let background = unkey.spawn_background(log.new(slog::o!("component" => "background")));
    let key_source = match &config.token_signing_key_file {
        Some(path) => KeySource::File(path.clone()),
        None => KeySource::Database(storage.clone()),
    };
    let sinch = Arc::new(
        Sinch::new(
            storage.clone(),
            Arc::clone(&clock),
            config.sinch,
            key_source,
            metrics.sinch.clone(),
        )
        .await?,
    );
    if let Some(path) = &config.token_signing_key_file
        && let Some(warning) = crate::private_file::mode_warning(path, KEY_FILE_HOLDS)?
    {
        slog::warn!(log, "{warning}");
    }
    let key_file_watcher = config.token_signing_key_file.clone().map(|path| {
        watch_key_file(
            path,
            Arc::clone(&sinch),
            log.new(slog::o!("component" => "signing-keys")),
        )
    });
    let audit_pruner = crate::domain::audit::spawn_pruner(
        storage.clone(),
        Arc::clone(&clock),
        config.audit_retention,
        log.new(slog::o!("component" => "audit")),
    );
    let watcher = crate::domain::changes::spawn_watcher(
        storage.clone(),
        Arc::clone(&unkey),
        Arc::clone(&sinch),
        clock,
        log.new(slog::o!("component" => "changes")),
    )
    .await?;
    // After the watcher subscribed: a key created during the load is in it,
    // or arrives as a change.
    let index_loader = unkey.spawn_index_loader(log.new(slog::o!("component" => "key-index")));
    let state = ServerState {
        storage,
        unkey,
        sinch,
        request_timeout: limits.request_timeout,
        specs: served_specs()?,
        shutting_down: AtomicBool::new(false),
        metrics_service: if config.metrics_bind.is_some() {
            "prometheus"
        } else {
            "none"
        },
    };
    let connections_fit = raise_file_limit().saturating_sub(RESERVED_FILES).max(1);
    let max_connections = limits.max_connections.unwrap_or(connections_fit);
    if max_connections > connections_fit {
        slog::warn!(log, "--max-connections is above what the open-file limit leaves room for";
            "max_connections" => max_connections, "fits" => connections_fit);
    }
    let server = ServerBuilder::new(api_description()?, state, log.clone())
        .config(ConfigDropshot {
            bind_address: config.bind,
            default_request_body_max_bytes: REQUEST_BODY_MAX_BYTES,
            ..Default::default()
        })
        .connection_limits(dropshot::ConnectionLimits {
            request_timeout: limits.request_timeout,
            idle_timeout: limits.idle_timeout,
            max_connections,
        })
        .observer(Arc::clone(&metrics) as Arc<dyn dropshot::ServerObserver>)
        .start()
        .map_err(|e| anyhow::anyhow!("starting the HTTP server on {}: {e}", config.bind))?;
    let metrics_server = config
        .metrics_bind
        .map(|bind| start_metrics_server(bind, metrics, &log))
        .transpose()?;
    Ok(RunningServer {
        server,
        metrics_server,
        background: [
            Some(background),
            Some(watcher),
            Some(index_loader),
            Some(audit_pruner),
            key_file_watcher,
        ]
        .into_iter()
        .flatten()
        .collect(),
        log,
        shutdown_timeout: limits.shutdown_timeout,
        drain: limits.drain,
        bootstrap,
    })
}

/// Serves `GET /metrics` on its own address, apart from the APIs: metrics
/// tell more than a public client should know.
fn start_metrics_server(
    bind: SocketAddr,
    metrics: Arc<Metrics>,
    log: &slog::Logger,
) -> anyhow::Result<HttpServer<Arc<Metrics>>> {
    let mut api = ApiDescription::new();
    api.register(ApiEndpoint::new(
        "metrics".to_string(),
        render_metrics,
        http::Method::GET,
        // The request body's type; a GET has none.
        "application/json",
        "/metrics",
        ApiEndpointVersions::All,
    ))
    .map_err(|e| anyhow::anyhow!("registering /metrics: {e}"))?;
    ServerBuilder::new(api, metrics, log.new(slog::o!("component" => "metrics")))
        .config(ConfigDropshot {
            bind_address: bind,
            ..Default::default()
        })
        .start()
        .map_err(|e| anyhow::anyhow!("starting the metrics server on {bind}: {e}"))
}

/// `GET /metrics`: the Prometheus text format.
async fn render_metrics(
    rqctx: RequestContext<Arc<Metrics>>,
) -> Result<http::Response<dropshot::Body>, HttpError> {
    http::Response::builder()
        .header(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .body(rqctx.context().render().into())
        .map_err(|e| HttpError::for_internal_error(format!("building the metrics answer: {e}")))
}

/// Reads the signing key file again whenever it changes: `keyward
/// signing-key rotate --token-signing-key-file` rewrites it while the server
/// runs. Checked every second.
fn watch_key_file(
    path: PathBuf,
    sinch: Arc<Sinch>,
    log: slog::Logger,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut seen = modified(&path);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = modified(&path);
            if now != seen {
                seen = now;
                if let Err(e) = sinch.reload_signing_keys().await {
                    slog::warn!(log, "reading the signing key file again failed"; "error" => %e);
                }
            }
        }
    })
}

/// Raises the soft open-file limit to the hard one, so that connections are
/// capped by `--max-connections` rather than by a refused `accept`. Returns
/// the limit in force.
fn raise_file_limit() -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(1024);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// Both APIs in one description, plus the served specs.
pub fn api_description() -> anyhow::Result<ApiDescription<ServerState>> {
    let mut api = ApiDescription::new();
    unkey::register_unkey::<UnkeyService>(&mut api)
        .map_err(|e| anyhow::anyhow!("registering the Unkey API: {e}"))?;
    sinch_access_keys::register_sinch_access_keys::<SinchAccessKeysService>(&mut api)
        .map_err(|e| anyhow::anyhow!("registering the Sinch API: {e}"))?;
    crate::api::oauth::register(&mut api)
        .map_err(|e| anyhow::anyhow!("registering {}: {e}", crate::api::oauth::PATH))?;
    api.register(
        ApiEndpoint::new(
            "openapi_document".to_string(),
            openapi_document,
            http::Method::GET,
            "application/json",
            "/openapi/{document}",
            ApiEndpointVersions::All,
        )
        .visible(false),
    )
    .map_err(|e| anyhow::anyhow!("registering /openapi: {e}"))?;
    api.register(
        ApiEndpoint::new(
            "readyz".to_string(),
            readyz,
            http::Method::GET,
            "application/json",
            "/readyz",
            ApiEndpointVersions::All,
        )
        .visible(false),
    )
    .map_err(|e| anyhow::anyhow!("registering /readyz: {e}"))?;
    Ok(api)
}

/// The OpenAPI document of each generated trait: what keyward implements.
pub fn unkey_openapi() -> anyhow::Result<serde_json::Value> {
    let api = unkey::unkey_api_mod::stub_api_description().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(api
        .openapi("Unkey Api (keyward)", semver::Version::new(1, 0, 0))
        .json()?)
}

pub fn sinch_openapi() -> anyhow::Result<serde_json::Value> {
    let api = sinch_access_keys::sinch_access_keys_api_mod::stub_api_description()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(api
        .openapi(
            "Access Keys Management API (keyward)",
            semver::Version::new(1, 0, 0),
        )
        .json()?)
}

/// What `/openapi/*` serves: each spec with keyward's overlay applied, the
/// documents the code was generated from. The rules of every request type
/// are compiled here too, so that one that does not compile stops the start.
fn served_specs() -> anyhow::Result<ServedSpecs> {
    unkey::compile_request_rules().map_err(anyhow::Error::msg)?;
    sinch_access_keys::compile_request_rules().map_err(anyhow::Error::msg)?;
    let served = |document: &'static Result<crate::api::rules::Document, String>| {
        document
            .as_ref()
            .map(|d| d.served.clone())
            .map_err(|e| anyhow::anyhow!("a served spec does not load: {e}"))
    };
    Ok(ServedSpecs {
        unkey: served(unkey::document())?,
        sinch: served(sinch_access_keys::document())?,
    })
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct DocumentPath {
    /// `unkey.json` or `sinch.json`.
    document: String,
}

/// `GET /openapi/unkey.json` and `GET /openapi/sinch.json`.
async fn openapi_document(
    rqctx: RequestContext<ServerState>,
    path: Path<DocumentPath>,
) -> Result<HttpResponseOk<serde_json::Value>, HttpError> {
    let specs = &rqctx.context().specs;
    match path.into_inner().document.as_str() {
        "unkey.json" => Ok(HttpResponseOk(specs.unkey.clone())),
        "sinch.json" => Ok(HttpResponseOk(specs.sinch.clone())),
        other => Err(HttpError::for_not_found(
            None,
            format!("no document {other}; try unkey.json or sinch.json"),
        )),
    }
}

/// `GET /readyz`: 200 while the node should get traffic, else 503 with the
/// reason. Unlike `/v1/liveness`, it asks the database.
async fn readyz(
    rqctx: RequestContext<ServerState>,
) -> Result<crate::api::Reply<serde_json::Value>, HttpError> {
    let state = rqctx.context();
    let shutting_down = state.shutting_down.load(Ordering::SeqCst);
    let headers = http::HeaderMap::new();
    Ok(
        match crate::domain::health::readiness(&state.storage, shutting_down).await {
            Ok(()) => crate::api::Reply::ok(&serde_json::json!({"status": "ready"}), headers),
            Err(reason) => crate::api::Reply::json(
                http::StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "unavailable", "reason": reason}),
                headers,
            ),
        },
    )
}

/// SIGINT and SIGTERM, caught. Install them before the server starts: from
/// then on either one asks for a graceful shutdown, even one that comes
/// before the server has announced itself, where the default action would
/// kill the process and lose the counts it holds.
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn serve_until_signalled(mut self, running: RunningServer) -> anyhow::Result<()> {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        // Not eprintln!: with stderr closed it panics, and shutdown would not
        // flush what is pending.
        let _ = writeln!(std::io::stderr(), "keyward: shutting down");
        running.shutdown().await
    }
}
