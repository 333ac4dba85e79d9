//! The `keyward` command line. Every flag also reads a `KEYWARD_*` variable.

use crate::domain::admin::{self, Bootstrap, IssuedAccessKey, IssuedRootKey};
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::sinch::Settings as SinchSettings;
use crate::domain::sinch::signing::KeySource;
use crate::server::{self, Limits, ServerConfig};
use crate::storage::Storage;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Self-hosted API key management: the Unkey v1 and Sinch Access Keys APIs"
)]
pub struct Cli {
    /// SQLite database, created if missing.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_DATABASE_URL",
        default_value = "sqlite://keyward.db"
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve both APIs. On an empty database, first creates a `default`
    /// workspace with a `*` root key and a `default` project with an access
    /// key, and prints them once.
    Serve(ServeArgs),
    /// Manage Unkey workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage Unkey root keys.
    #[command(subcommand, name = "root-key")]
    RootKey(RootKeyCommand),
    /// Manage Unkey roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage Sinch projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage Sinch access keys.
    #[command(subcommand, name = "access-key")]
    AccessKey(AccessKeyCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand, name = "signing-key")]
    SigningKey(SigningKeyCommand),
    /// Read the audit log: who changed what.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Fill a database for bench/run: bootstrap, an api and N keys.
    #[command(hide = true)]
    BenchSeed(BenchSeedArgs),
    /// bench/run's floor row: a bare hyper server answering a fixed 200.
    #[command(hide = true)]
    BenchFloor {
        #[arg(long)]
        bind: SocketAddr,
    },
}

#[derive(Debug, Args)]
pub struct BenchSeedArgs {
    #[arg(long, env = "KEYWARD_BOOTSTRAP_ROOT_KEY", hide_env_values = true)]
    pub root_key: String,
    /// `<id>:<secret>`.
    #[arg(long, env = "KEYWARD_BOOTSTRAP_ACCESS_KEY", hide_env_values = true)]
    pub access_key: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: usize,
    /// Where to write the plain keys, one per line.
    #[arg(long)]
    pub keys_file: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYWARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Use this root key for the bootstrap workspace instead of a random one.
    #[arg(long, env = "KEYWARD_BOOTSTRAP_ROOT_KEY", hide_env_values = true)]
    pub bootstrap_root_key: Option<String>,
    /// Use this access key, as `<id>:<secret>`, for the bootstrap project.
    #[arg(long, env = "KEYWARD_BOOTSTRAP_ACCESS_KEY", hide_env_values = true)]
    pub bootstrap_access_key: Option<String>,
    #[arg(long, env = "KEYWARD_LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
    /// Lifetime of the OAuth2 access tokens issued by /oauth2/token.
    #[arg(long, env = "KEYWARD_TOKEN_LIFETIME_SECS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..))]
    pub token_lifetime_secs: i64,
    /// How many access keys a Sinch project may have.
    #[arg(long, env = "KEYWARD_MAX_ACCESS_KEYS_PER_PROJECT", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_access_keys_per_project: i64,
    /// Keep the token signing keys in this file (JSON, created 0600 if
    /// missing) instead of in the database.
    #[arg(long, env = "KEYWARD_TOKEN_SIGNING_KEY_FILE")]
    pub token_signing_key_file: Option<std::path::PathBuf>,
    /// The URL clients reach keyward at: every token's `iss`, and the issuer
    /// of /.well-known/oauth-authorization-server. Default: http://<bind>.
    #[arg(long, env = "KEYWARD_TOKEN_ISSUER")]
    pub token_issuer: Option<String>,
    /// Seconds a client has to send a request's head, and then its body; a
    /// connection that sends nothing is closed after this.
    #[arg(long, env = "KEYWARD_REQUEST_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
    /// Seconds a connection with no request in flight stays open.
    #[arg(long, env = "KEYWARD_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT.
    #[arg(long, env = "KEYWARD_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// Seconds the server keeps serving after SIGTERM with /readyz at 503,
    /// before it stops taking connections: set it to how long your load
    /// balancer takes to notice.
    #[arg(long, env = "KEYWARD_DRAIN_SECS", default_value_t = 0)]
    pub drain_secs: u64,
    /// Open connections allowed at once [default: the open-file limit, raised
    /// to its hard limit, less 100].
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Keys cached for verification at most, filled at start from the
    /// database; a key past it is read on its verify (about 300 bytes each).
    #[arg(long, env = "KEYWARD_KEY_CACHE_CAPACITY", default_value_t = crate::domain::unkey::DEFAULT_KEY_CACHE_CAPACITY)]
    pub key_cache_capacity: usize,
    /// `ratelimits.limit` counters kept at most; past it the oldest go.
    #[arg(long, env = "KEYWARD_MAX_RATELIMIT_ENTRIES", default_value_t = crate::domain::unkey::DEFAULT_MAX_RATELIMIT_ENTRIES)]
    pub max_ratelimit_entries: usize,
    /// Serve Prometheus metrics at GET /metrics on this address (e.g.
    /// 127.0.0.1:9464), apart from the APIs [default: not served].
    #[arg(long, env = "KEYWARD_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Days the audit log keeps a change; older ones are pruned hourly.
    #[arg(long, env = "KEYWARD_AUDIT_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_retention_days: u64,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct Output {
    /// Print created secrets as one JSON object on stdout, for scripts.
    #[arg(long, env = "KEYWARD_JSON")]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<LogLevel> for dropshot::ConfigLoggingLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => dropshot::ConfigLoggingLevel::Trace,
            LogLevel::Debug => dropshot::ConfigLoggingLevel::Debug,
            LogLevel::Info => dropshot::ConfigLoggingLevel::Info,
            LogLevel::Warn => dropshot::ConfigLoggingLevel::Warn,
            LogLevel::Error => dropshot::ConfigLoggingLevel::Error,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace and a root key with `*`.
    Create {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// List workspaces: id, name, enabled, created, apis and root keys.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Disable a workspace: its root keys and keys stop working.
    Disable {
        #[arg(value_name = "WORKSPACE_ID")]
        workspace_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Enable a disabled workspace again.
    Enable {
        #[arg(value_name = "WORKSPACE_ID")]
        workspace_id: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum RootKeyCommand {
    /// Create a root key with exactly the given permissions.
    Create {
        #[arg(long, env = "KEYWARD_WORKSPACE")]
        workspace: String,
        /// A permission such as `*`, `api.*.create_key` or `api.<apiId>.read_key`; repeatable.
        #[arg(
            long = "permission",
            env = "KEYWARD_PERMISSIONS",
            value_delimiter = ','
        )]
        permissions: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
    /// List a workspace's root keys: id, start, permissions, created, last used.
    List {
        #[arg(long, env = "KEYWARD_WORKSPACE")]
        workspace: String,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a root key: it stops working on every server of the database.
    Revoke {
        #[arg(value_name = "ROOT_KEY_ID")]
        root_key_id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Where the signing keys are: the database, or the serve's key file.
#[derive(Debug, Args)]
pub struct SigningKeyLocation {
    /// The file `serve --token-signing-key-file` uses, if it keeps the keys
    /// out of the database.
    #[arg(long, env = "KEYWARD_TOKEN_SIGNING_KEY_FILE")]
    pub token_signing_key_file: Option<std::path::PathBuf>,
    /// The token lifetime `serve` uses: keys retired longer ago than this
    /// (and a minute) are deleted.
    #[arg(long, env = "KEYWARD_TOKEN_LIFETIME_SECS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..))]
    pub token_lifetime_secs: i64,
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new key current. The previous one keeps checking the tokens it
    /// signed until they expire, then drops; running servers take the new
    /// key within a second.
    Rotate {
        #[command(flatten)]
        location: SigningKeyLocation,
        #[command(flatten)]
        output: Output,
    },
    /// List the signing keys: kid, created, retired. Never the keys.
    List {
        #[command(flatten)]
        location: SigningKeyLocation,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List changes, newest first: time, actor, action, target, request id
    /// and the fields that changed. Never a secret.
    List {
        /// Only the changes of this Unkey workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// Only the changes of this Sinch project.
        #[arg(long)]
        project: Option<String>,
        /// Only changes at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long, value_parser = parse_rfc3339_ms)]
        since: Option<i64>,
        /// At most this many changes.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=crate::domain::audit::MAX_LIST))]
        limit: i64,
        #[command(flatten)]
        output: Output,
    },
}

/// An RFC 3339 time as unix milliseconds.
fn parse_rfc3339_ms(value: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("not an RFC 3339 time ({e}); e.g. 2026-12-01T00:00:00Z"))
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role with its permissions, for keys to be given by name.
    Create {
        #[arg(long, env = "KEYWARD_WORKSPACE")]
        workspace: String,
        #[arg(value_name = "ROLE_NAME")]
        name: String,
        /// A permission name; repeatable.
        #[arg(
            long = "permission",
            env = "KEYWARD_PERMISSIONS",
            value_delimiter = ','
        )]
        permissions: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
    /// List a workspace's roles: name, permissions, keys holding it.
    List {
        #[arg(long, env = "KEYWARD_WORKSPACE")]
        workspace: String,
        #[command(flatten)]
        output: Output,
    },
    /// Delete a role; keys that held it lose its permissions.
    Delete {
        #[arg(long, env = "KEYWARD_WORKSPACE")]
        workspace: String,
        #[arg(value_name = "ROLE_NAME")]
        name: String,
        /// Delete it even though keys hold it.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and its first access key.
    Create {
        #[arg(long, env = "KEYWARD_PROJECT_NAME", default_value = "default")]
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// List projects: id, name, created, access keys.
    List {
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// List a project's access keys: id, display name, created. Never a secret.
    List {
        #[arg(long, env = "KEYWARD_PROJECT")]
        project: String,
        #[command(flatten)]
        output: Output,
    },
    /// Create an access key, for a project whose keys were lost.
    Create {
        #[arg(long, env = "KEYWARD_PROJECT")]
        project: String,
        /// Unique in the project [default: cli-<first characters of its id>].
        #[arg(long)]
        display_name: Option<String>,
        /// How many access keys a project may have.
        #[arg(long, env = "KEYWARD_MAX_ACCESS_KEYS_PER_PROJECT", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..))]
        max_access_keys_per_project: i64,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke an access key: it and every token issued for it stop working.
    Revoke {
        #[arg(long, env = "KEYWARD_PROJECT")]
        project: String,
        #[arg(value_name = "ACCESS_KEY_ID")]
        access_key_id: String,
        /// Revoke it even if it is the project's last key.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: Output,
    },
}

/// The exit code for a failed command: 3 when what it names does not exist,
/// 4 when it conflicts with what does (nothing was changed in either case),
/// 1 otherwise. Usage errors exit 2, from clap.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<admin::NotFound>().is_some() {
        3
    } else if error.downcast_ref::<admin::Conflict>().is_some() {
        4
    } else {
        1
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = SystemClock;
    match cli.command {
        Command::Serve(args) => serve(cli.database_url, args).await,
        Command::BenchFloor { bind } => crate::bench_floor::serve(bind).await,
        command => {
            let storage = Storage::open(&cli.database_url).await?;
            let result = admin_command(&storage, clock.now_ms(), command).await;
            storage.close().await;
            result
        }
    }
}

async fn serve(database_url: String, args: ServeArgs) -> anyhow::Result<()> {
    let signals = server::StopSignals::install()?;
    let config = ServerConfig {
        bind: args.bind,
        database_url,
        bootstrap_root_key: args.bootstrap_root_key,
        bootstrap_access_key: args
            .bootstrap_access_key
            .as_deref()
            .map(admin::parse_access_key)
            .transpose()?,
        log_level: args.log_level.into(),
        sinch: SinchSettings {
            token_lifetime_secs: args.token_lifetime_secs,
            max_access_keys_per_project: args.max_access_keys_per_project,
            issuer: args
                .token_issuer
                .map(|issuer| issuer.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("http://{}", args.bind)),
        },
        token_signing_key_file: args.token_signing_key_file,
        metrics_bind: args.metrics_bind,
        audit_retention: Duration::from_secs(args.audit_retention_days * 86_400),
        limits: Limits {
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout_secs),
            drain: Duration::from_secs(args.drain_secs),
            max_connections: args
                .max_connections
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            key_cache_capacity: args.key_cache_capacity,
            max_ratelimit_entries: args.max_ratelimit_entries,
        },
    };
    let running = server::start(config, Arc::new(SystemClock)).await?;
    if let Some(bootstrap) = &running.bootstrap {
        print_bootstrap(bootstrap, args.output.json)?;
    }
    eprintln!(
        "keyward: serving the Unkey and Sinch APIs on http://{}",
        running.local_addr()
    );
    if let Some(metrics) = running.metrics_addr() {
        eprintln!("keyward: serving metrics on http://{metrics}/metrics");
    }
    signals.serve_until_signalled(running).await
}

async fn admin_command(storage: &Storage, now_ms: i64, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) | Command::BenchFloor { .. } => {
            unreachable!("serve and bench-floor are handled by run")
        }
        Command::Workspace(command) => workspace_command(storage, now_ms, command).await,
        Command::RootKey(command) => root_key_command(storage, now_ms, command).await,
        Command::Role(command) => role_command(storage, now_ms, command).await,
        Command::Project(command) => project_command(storage, now_ms, command).await,
        Command::AccessKey(command) => access_key_command(storage, now_ms, command).await,
        Command::SigningKey(command) => signing_key_command(storage, now_ms, command).await,
        Command::Audit(command) => audit_command(storage, command).await,
        Command::BenchSeed(args) => {
            let access_key = admin::parse_access_key(&args.access_key)?;
            let seed = admin::seed_benchmark(
                storage,
                now_ms,
                args.root_key,
                access_key,
                args.keys,
                &args.keys_file,
            )
            .await?;
            print_json(&seed)
        }
    }
}

async fn workspace_command(
    storage: &Storage,
    now_ms: i64,
    command: WorkspaceCommand,
) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create { name, output } => {
            let issued = admin::create_workspace(storage, now_ms, &name, None).await?;
            print_root_key(&issued, output.json)
        }
        WorkspaceCommand::List { output } => {
            let workspaces = admin::list_workspaces(storage).await?;
            print_list(
                output.json,
                &["ID", "NAME", "ENABLED", "CREATED", "APIS", "ROOT KEYS"],
                workspaces.iter().map(|w| {
                    (
                        json!({"id": w.id, "name": w.name, "enabled": w.enabled,
                               "createdAt": time(w.created_at), "apis": w.apis, "rootKeys": w.root_keys}),
                        vec![w.id.clone(), w.name.clone(), w.enabled.to_string(),
                             time(w.created_at), w.apis.to_string(), w.root_keys.to_string()],
                    )
                }),
            )
        }
        WorkspaceCommand::Disable {
            workspace_id,
            output,
        } => {
            admin::disable_workspace(storage, now_ms, &workspace_id).await?;
            print_done(
                output.json,
                json!({"workspaceId": workspace_id, "enabled": false}),
                &format!("workspace {workspace_id} is disabled"),
            )
        }
        WorkspaceCommand::Enable {
            workspace_id,
            output,
        } => {
            admin::enable_workspace(storage, now_ms, &workspace_id).await?;
            print_done(
                output.json,
                json!({"workspaceId": workspace_id, "enabled": true}),
                &format!("workspace {workspace_id} is enabled"),
            )
        }
    }
}

async fn root_key_command(
    storage: &Storage,
    now_ms: i64,
    command: RootKeyCommand,
) -> anyhow::Result<()> {
    match command {
        RootKeyCommand::Create {
            workspace,
            permissions,
            output,
        } => {
            let issued =
                admin::create_root_key(storage, now_ms, &workspace, permissions, None).await?;
            print_root_key(&issued, output.json)
        }
        RootKeyCommand::List { workspace, output } => {
            let keys = admin::list_root_keys(storage, &workspace).await?;
            print_list(
                output.json,
                &["ID", "START", "PERMISSIONS", "CREATED", "LAST USED"],
                keys.iter().map(|k| {
                    let last_used = k.last_used_at.map(time);
                    (
                        json!({"id": k.id, "start": k.start, "permissions": k.permissions,
                               "createdAt": time(k.created_at), "lastUsedAt": last_used}),
                        vec![
                            k.id.clone(),
                            k.start.clone(),
                            k.permissions.join(","),
                            time(k.created_at),
                            last_used.unwrap_or_else(|| "never".into()),
                        ],
                    )
                }),
            )
        }
        RootKeyCommand::Revoke {
            root_key_id,
            output,
        } => {
            admin::revoke_root_key(storage, now_ms, &root_key_id).await?;
            print_done(
                output.json,
                json!({"rootKeyId": root_key_id, "revoked": true}),
                &format!("root key {root_key_id} is revoked"),
            )
        }
    }
}

async fn audit_command(storage: &Storage, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        workspace,
        project,
        since,
        limit,
        output,
    } = command;
    let query = crate::storage::AuditQuery {
        workspace_id: workspace.as_deref(),
        project_id: project.as_deref(),
        since_ms: since,
        limit,
    };
    let records = crate::domain::audit::list(storage, &query).await?;
    print_list(
        output.json,
        &[
            "TIME", "ACTOR", "ACTION", "TARGET", "SCOPE", "REQUEST", "CHANGED",
        ],
        records.iter().map(|r| {
            let summary: serde_json::Value =
                serde_json::from_str(&r.summary).unwrap_or(serde_json::Value::Null);
            let scope = r.workspace_id.as_ref().or(r.project_id.as_ref());
            (
                json!({"id": r.id, "time": time(r.at_ms), "actor": r.actor, "action": r.action,
                       "target": r.target, "workspaceId": r.workspace_id,
                       "projectId": r.project_id, "requestId": r.request_id,
                       "summary": summary}),
                vec![
                    time(r.at_ms),
                    r.actor.clone(),
                    r.action.clone(),
                    r.target.clone(),
                    scope.cloned().unwrap_or_else(|| "-".into()),
                    r.request_id.clone().unwrap_or_else(|| "-".into()),
                    r.summary.clone(),
                ],
            )
        }),
    )
}

async fn signing_key_command(
    storage: &Storage,
    now_ms: i64,
    command: SigningKeyCommand,
) -> anyhow::Result<()> {
    let source = |location: &SigningKeyLocation| match &location.token_signing_key_file {
        Some(path) => KeySource::File(path.clone()),
        None => KeySource::Database(storage.clone()),
    };
    match command {
        SigningKeyCommand::Rotate { location, output } => {
            let next = source(&location)
                .rotate(now_ms, location.token_lifetime_secs)
                .await?;
            print_done(
                output.json,
                json!({"kid": next.kid, "current": true}),
                &format!("signing key {} is current", next.kid),
            )
        }
        SigningKeyCommand::List { location, output } => {
            let keys = source(&location).load(now_ms).await?;
            print_list(
                output.json,
                &["KID", "CREATED", "RETIRED"],
                keys.iter().map(|k| {
                    let retired = k.retired_at.map(time);
                    (
                        json!({"kid": k.kid, "createdAt": time(k.created_at), "retiredAt": retired}),
                        vec![
                            k.kid.clone(),
                            time(k.created_at),
                            retired.unwrap_or_else(|| "current".into()),
                        ],
                    )
                }),
            )
        }
    }
}

async fn role_command(storage: &Storage, now_ms: i64, command: RoleCommand) -> anyhow::Result<()> {
    match command {
        RoleCommand::Create {
            workspace,
            name,
            permissions,
            output,
        } => {
            let role_id =
                admin::create_role(storage, now_ms, &workspace, &name, &permissions).await?;
            if output.json {
                return print_json(
                    &json!({"roleId": role_id, "name": name, "permissions": permissions}),
                );
            }
            println!("{role_id}");
            Ok(())
        }
        RoleCommand::List { workspace, output } => {
            let roles = admin::list_roles(storage, &workspace).await?;
            print_list(
                output.json,
                &["NAME", "PERMISSIONS", "KEYS"],
                roles.iter().map(|r| {
                    (
                        json!({"id": r.id, "name": r.name, "permissions": r.permissions, "keys": r.keys}),
                        vec![r.name.clone(), r.permissions.join(","), r.keys.to_string()],
                    )
                }),
            )
        }
        RoleCommand::Delete {
            workspace,
            name,
            force,
            output,
        } => {
            admin::delete_role(storage, now_ms, &workspace, &name, force).await?;
            print_done(
                output.json,
                json!({"workspaceId": workspace, "name": name, "deleted": true}),
                &format!("role {name} is deleted"),
            )
        }
    }
}

async fn project_command(
    storage: &Storage,
    now_ms: i64,
    command: ProjectCommand,
) -> anyhow::Result<()> {
    match command {
        ProjectCommand::Create { name, output } => {
            let issued = admin::create_project(storage, now_ms, &name, None).await?;
            print_access_key(&issued, output.json)
        }
        ProjectCommand::List { output } => {
            let projects = admin::list_projects(storage).await?;
            print_list(
                output.json,
                &["ID", "NAME", "CREATED", "ACCESS KEYS"],
                projects.iter().map(|p| {
                    (
                        json!({"id": p.id, "name": p.name, "createdAt": time(p.created_at),
                               "accessKeys": p.access_keys}),
                        vec![
                            p.id.clone(),
                            p.name.clone(),
                            time(p.created_at),
                            p.access_keys.to_string(),
                        ],
                    )
                }),
            )
        }
    }
}

async fn access_key_command(
    storage: &Storage,
    now_ms: i64,
    command: AccessKeyCommand,
) -> anyhow::Result<()> {
    match command {
        AccessKeyCommand::List { project, output } => {
            let keys = admin::list_access_keys(storage, &project).await?;
            print_list(
                output.json,
                &["ID", "DISPLAY NAME", "CREATED"],
                keys.iter().map(|k| {
                    (
                        json!({"accessKeyId": k.id, "displayName": k.display_name,
                               "createdAt": time(k.created_at)}),
                        vec![k.id.clone(), k.display_name.clone(), time(k.created_at)],
                    )
                }),
            )
        }
        AccessKeyCommand::Create {
            project,
            display_name,
            max_access_keys_per_project,
            output,
        } => {
            let issued = admin::create_access_key(
                storage,
                now_ms,
                &project,
                display_name,
                max_access_keys_per_project,
            )
            .await?;
            print_access_key(&issued, output.json)
        }
        AccessKeyCommand::Revoke {
            project,
            access_key_id,
            force,
            output,
        } => {
            admin::revoke_access_key(storage, now_ms, &project, &access_key_id, force).await?;
            print_done(
                output.json,
                json!({"projectId": project, "accessKeyId": access_key_id, "revoked": true}),
                &format!("access key {access_key_id} is revoked, with its tokens"),
            )
        }
    }
}

/// Unix ms as RFC 3339, to the second.
fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A list: one JSON array, or a table of aligned columns for people.
fn print_list(
    json: bool,
    header: &[&str],
    rows: impl Iterator<Item = (serde_json::Value, Vec<String>)>,
) -> anyhow::Result<()> {
    let (documents, cells): (Vec<_>, Vec<_>) = rows.unzip();
    if json {
        return print_json(&documents);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: Vec<String>| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    cells.into_iter().for_each(line);
    Ok(())
}

/// The outcome of a change: a JSON document, or a sentence.
fn print_done(json: bool, document: serde_json::Value, sentence: &str) -> anyhow::Result<()> {
    if json {
        return print_json(&document);
    }
    println!("{sentence}");
    Ok(())
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn print_root_key(issued: &IssuedRootKey, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(issued);
    }
    println!("workspace id: {}", issued.workspace_id);
    println!("root key id:  {}", issued.root_key_id);
    println!("root key:     {}", issued.root_key);
    println!("permissions:  {}", issued.permissions.join(", "));
    eprintln!("The root key is shown only this once; keyward stores only its hash.");
    Ok(())
}

fn print_access_key(issued: &IssuedAccessKey, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(issued);
    }
    println!("project id:    {}", issued.project_id);
    println!("access key id: {}", issued.access_key_id);
    println!("secret:        {}", issued.secret);
    eprintln!("The secret is shown only this once; keyward stores only its hash.");
    Ok(())
}

/// The bootstrap credentials go to stderr, away from the JSON log lines'
/// consumers, unless `--json` asks for them on stdout.
fn print_bootstrap(bootstrap: &Bootstrap, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bootstrap);
    }
    eprintln!(
        "\n\
         ==================== keyward: first start ====================\n\
         Created on this empty database; shown only this once.\n\
         \n\
         Unkey API   workspace {}\n\
         \x20           root key  {}\n\
         \x20           use:      Authorization: Bearer <root key>\n\
         \n\
         Sinch API   project   {}\n\
         \x20           key id    {}\n\
         \x20           secret    {}\n\
         \x20           use:      curl -u <key id>:<secret> ...\n\
         ===============================================================\n",
        bootstrap.unkey.workspace_id,
        bootstrap.unkey.root_key,
        bootstrap.sinch.project_id,
        bootstrap.sinch.access_key_id,
        bootstrap.sinch.secret,
    );
    Ok(())
}
