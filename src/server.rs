//! Builds and runs the one dropshot server that serves both APIs.

use crate::api::sinch_access_keys::SinchAccessKeysService;
use crate::api::unkey::UnkeyService;
use crate::domain::admin::{self, Bootstrap};
use crate::domain::clock::Clock;
use crate::domain::sinch::{Settings as SinchSettings, Sinch};
use crate::domain::unkey::Unkey;
use crate::generated::{sinch_access_keys, unkey};
use crate::storage::Storage;
use anyhow::Context;
use dropshot::{
    ApiDescription, ApiEndpoint, ApiEndpointVersions, ConfigDropshot, ConfigLogging,
    ConfigLoggingIfExists, ConfigLoggingLevel, HttpError, HttpResponseOk, HttpServer, Path,
    RequestContext, ServerBuilder,
};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

/// Request bodies above this size are refused with a 400 in the API's shape.
pub const REQUEST_BODY_MAX_BYTES: usize = 64 * 1024;

/// What every handler can reach through `rqctx.context()`.
#[derive(Debug)]
pub struct ServerState {
    /// For shutdown and the tests' set-ups; handlers go through `unkey` and
    /// `sinch`, never to storage directly.
    pub storage: Storage,
    pub unkey: Arc<Unkey>,
    pub sinch: Sinch,
    specs: ServedSpecs,
}

/// The OpenAPI documents of the implemented traits, served as JSON.
#[derive(Debug)]
struct ServedSpecs {
    unkey: serde_json::Value,
    sinch: serde_json::Value,
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
}

/// A started server.
pub struct RunningServer {
    pub server: HttpServer<ServerState>,
    background: tokio::task::JoinHandle<()>,
    /// What the start created on an empty database, secrets included.
    pub bootstrap: Option<Bootstrap>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops accepting connections, lets requests in flight finish, then
    /// closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let state = self.server.app_private();
        let (storage, unkey) = (state.storage.clone(), Arc::clone(&state.unkey));
        self.server.close().await.map_err(anyhow::Error::msg)?;
        self.background.abort();
        unkey
            .flush()
            .await
            .context("writing the last verification counts")?;
        storage.close().await;
        Ok(())
    }
}

/// Opens the database (running migrations), bootstraps an empty one, and
/// starts serving.
pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    let log = ConfigLogging::File {
        level: config.log_level.clone(),
        // Bunyan JSON lines on stderr: structured, and easy to ship.
        path: "/dev/stderr".into(),
        if_exists: ConfigLoggingIfExists::Append,
    }
    .to_logger("keyward")
    .context("setting up logging")?;

    let storage = Storage::open(&config.database_url)
        .await
        .with_context(|| format!("opening the database {}", config.database_url))?;
    let bootstrap = admin::bootstrap(
        &storage,
        clock.now_ms(),
        config.bootstrap_root_key.clone(),
        config.bootstrap_access_key.clone(),
    )
    .await
    .context("bootstrapping the empty database")?;

    let unkey = Arc::new(Unkey::new(storage.clone(), Arc::clone(&clock)).await?);
    let background = unkey.spawn_background(log.new(slog::o!("component" => "background")));
    let sinch = Sinch::new(storage.clone(), clock, config.sinch).await?;
    let state = ServerState {
        storage,
        unkey,
        sinch,
        specs: served_specs()?,
    };
    let server = ServerBuilder::new(api_description()?, state, log)
        .config(ConfigDropshot {
            bind_address: config.bind,
            default_request_body_max_bytes: REQUEST_BODY_MAX_BYTES,
            ..Default::default()
        })
        .start()
        .map_err(|e| anyhow::anyhow!("starting the HTTP server on {}: {e}", config.bind))?;
    Ok(RunningServer {
        server,
        background,
        bootstrap,
    })
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

fn served_specs() -> anyhow::Result<ServedSpecs> {
    Ok(ServedSpecs {
        unkey: unkey_openapi()?,
        sinch: sinch_openapi()?,
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

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve_until_signalled(running: RunningServer) -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    // Not eprintln!: with stderr closed it panics, and shutdown would not
    // flush what is pending.
    let _ = writeln!(std::io::stderr(), "keyward: shutting down");
    running.shutdown().await
}
