//! The command line: `roster serve`, `roster migrate`, `roster tenant …`,
//! `roster api-key …`. Every flag can also be set by its environment variable and by
//! the TOML file named with `--config`; a flag wins over the variable, the variable
//! over the file, and the file over the default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::app::Application;
use crate::auth::{Caller, PasswordParams};
use crate::config::{
    DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DEFAULT_LOG_LEVEL, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT_SECS, DatabaseUrl, FileConfig, LogFormat, ServeSettings,
};
use crate::domain::{
    ApiKeyRole, Description, KeyName, NewApiKey, PageRequest, TenantId, TenantName, Timestamp,
};
use crate::http::credentials::TrustedProxies;
use crate::service::{Directory, SignInPolicy};
use crate::store::{Store, StoreOptions};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "A self-hosted, multi-tenant directory of users and groups that also authenticates them",
    after_help = "Every flag can also be set by the environment variable shown, or by a key of the \
        same name (with underscores) in the TOML file given to --config. Precedence: flag, then \
        environment, then file, then default."
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// TOML file with settings (keys as the long flags, with underscores).
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Database: sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DB
    /// [default: sqlite://roster.db]
    #[arg(
        long,
        global = true,
        env = "ROSTER_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,

    /// Log format [default: human]
    #[arg(long, global = true, env = "ROSTER_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,

    /// Log filter, in tracing's EnvFilter syntax [default: info]
    #[arg(long, global = true, env = "ROSTER_LOG_LEVEL", value_name = "FILTER")]
    log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage tenants directly in the database.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage tenant API keys directly in the database.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "ROSTER_LISTEN", value_name = "ADDR")]
    listen: Option<String>,

    /// Largest request body accepted, in bytes [default: 1048576]
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,

    /// Longest a request may take, in seconds [default: 30]
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECS", value_name = "SECONDS")]
    request_timeout_secs: Option<u64>,

    /// PostgreSQL pool size; SQLite read-connection pool size [default: 16]
    #[arg(long, env = "ROSTER_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    database_max_connections: Option<u32>,

    /// Argon2id memory cost in KiB [default: 19456]
    #[arg(long, env = "ROSTER_PASSWORD_MEMORY_KIB", value_name = "KIB")]
    password_memory_kib: Option<u32>,

    /// Argon2id iterations [default: 2]
    #[arg(long, env = "ROSTER_PASSWORD_ITERATIONS", value_name = "N")]
    password_iterations: Option<u32>,

    /// Argon2id parallelism [default: 1]
    #[arg(long, env = "ROSTER_PASSWORD_PARALLELISM", value_name = "N")]
    password_parallelism: Option<u32>,

    /// Password hashing threads: hashes computed at once [default: the number of CPUs]
    #[arg(long, env = "ROSTER_PASSWORD_MAX_CONCURRENT", value_name = "N")]
    password_max_concurrent: Option<usize>,

    /// Lifetime of access tokens (sign-in, OAuth, Anodot), in seconds [default: 3600]
    #[arg(long, env = "ROSTER_TOKEN_TTL_SECS", value_name = "SECONDS")]
    token_ttl_secs: Option<i64>,

    /// Failed sign-ins within the window that lock an account [default: 5]
    #[arg(long, env = "ROSTER_LOCKOUT_MAX_FAILURES", value_name = "N")]
    lockout_max_failures: Option<i64>,

    /// The window failed sign-ins are counted in, in seconds [default: 900]
    #[arg(long, env = "ROSTER_LOCKOUT_WINDOW_SECS", value_name = "SECONDS")]
    lockout_window_secs: Option<i64>,

    /// How long a locked account stays locked, in seconds [default: 900]
    #[arg(long, env = "ROSTER_LOCKOUT_SECS", value_name = "SECONDS")]
    lockout_secs: Option<i64>,

    /// Sign-in attempts one client address may make per lockout window [default: 100]
    #[arg(long, env = "ROSTER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", value_name = "N")]
    login_max_attempts_per_address: Option<i64>,

    /// Proxies whose X-Forwarded-For names the client, comma-separated addresses or
    /// networks (10.0.0.0/8,fd00::/8) [default: none; the TCP peer is the client]
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_name = "LIST", value_parser = TrustedProxies::parse)]
    trusted_proxies: Option<TrustedProxies>,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its id.
    Create {
        /// The tenant's display name.
        #[arg(long)]
        name: String,
    },
    /// Print every tenant: id, tab, name.
    List,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a tenant API key and print its secret (shown this once).
    Create {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// admin (reads and writes) or reader (reads only).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A name to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// When the key stops working (RFC 3339); never by default.
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Admin,
    Reader,
}

/// Runs the command line and reports failure as the exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let file = match cli
        .global
        .config
        .as_deref()
        .map(FileConfig::load)
        .transpose()
    {
        Ok(file) => file.unwrap_or_default(),
        Err(error) => {
            eprintln!("roster: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&cli.global, &file);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli, file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(global: &GlobalArgs, file: &FileConfig) {
    let format = global.log_format.or(file.log_format).unwrap_or_default();
    let level = global
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
    // sqlx logs every statement at info; its warnings (slow queries) are what matter.
    let filter = tracing_subscriber::EnvFilter::try_new(format!("sqlx=warn,{level}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_LEVEL));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn database_url(global: &GlobalArgs, file: &FileConfig) -> DatabaseUrl {
    DatabaseUrl::new(
        global
            .database_url
            .clone()
            .or_else(|| file.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
    )
}

fn serve_settings(
    global: &GlobalArgs,
    args: &ServeArgs,
    file: &FileConfig,
) -> anyhow::Result<ServeSettings> {
    let defaults = PasswordParams::default();
    let store_defaults = StoreOptions::default();
    let trusted_proxies = match (&args.trusted_proxies, &file.trusted_proxies) {
        (Some(flag), _) => flag.clone(),
        (None, Some(listed)) => TrustedProxies::parse(&listed.join(","))
            .map_err(|e| anyhow::anyhow!("trusted_proxies in the config file: {e}"))?,
        (None, None) => TrustedProxies::default(),
    };
    Ok(ServeSettings {
        listen: args
            .listen
            .clone()
            .or_else(|| file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        database_url: database_url(global, file),
        max_body_bytes: args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES),
        request_timeout: Duration::from_secs(
            args.request_timeout_secs
                .or(file.request_timeout_secs)
                .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS),
        ),
        store: StoreOptions {
            max_connections: args
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(store_defaults.max_connections),
            ..store_defaults
        },
        password: PasswordParams {
            memory_kib: args
                .password_memory_kib
                .or(file.password_memory_kib)
                .unwrap_or(defaults.memory_kib),
            iterations: args
                .password_iterations
                .or(file.password_iterations)
                .unwrap_or(defaults.iterations),
            parallelism: args
                .password_parallelism
                .or(file.password_parallelism)
                .unwrap_or(defaults.parallelism),
            max_concurrent: args
                .password_max_concurrent
                .or(file.password_max_concurrent)
                .unwrap_or(defaults.max_concurrent),
        },
        sign_in: {
            let policy = SignInPolicy::default();
            let window = args
                .lockout_window_secs
                .or(file.lockout_window_secs)
                .unwrap_or(policy.failure_window_seconds);
            SignInPolicy {
                max_failures: args
                    .lockout_max_failures
                    .or(file.lockout_max_failures)
                    .unwrap_or(policy.max_failures),
                failure_window_seconds: window,
                lockout_seconds: args
                    .lockout_secs
                    .or(file.lockout_secs)
                    .unwrap_or(policy.lockout_seconds),
                max_attempts_per_address: args
                    .login_max_attempts_per_address
                    .or(file.login_max_attempts_per_address)
                    .unwrap_or(policy.max_attempts_per_address),
                address_window_seconds: window,
                token_ttl_seconds: args
                    .token_ttl_secs
                    .or(file.token_ttl_secs)
                    .unwrap_or(policy.token_ttl_seconds),
            }
        },
        trusted_proxies,
    })
}

async fn execute(cli: Cli, file: FileConfig) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(serve_settings(&cli.global, &args, &file)?).await,
        Command::Migrate => {
            let url = database_url(&cli.global, &file);
            let store = open_store(&url).await?;
            store.close().await;
            eprintln!("roster: {url} is up to date");
            Ok(())
        }
        Command::Tenant(command) => {
            let directory = cli_directory(&database_url(&cli.global, &file)).await?;
            let result = tenant(&directory, command).await;
            directory.store().close().await;
            result
        }
        Command::ApiKey(command) => {
            let directory = cli_directory(&database_url(&cli.global, &file)).await?;
            let result = api_key(&directory, command).await;
            directory.store().close().await;
            result
        }
    }
}

async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let bootstrap = std::env::var("ROSTER_BOOTSTRAP_TOKEN")
        .ok()
        .filter(|token| !token.is_empty());
    if bootstrap.as_ref().is_some_and(|token| token.len() < 16) {
        tracing::warn!(
            "ROSTER_BOOTSTRAP_TOKEN is shorter than 16 characters; use a long random secret"
        );
    }
    let app = Application::build(&settings, bootstrap.as_deref()).await?;
    if let Some(token) = &app.generated_operator_token {
        println!(
            "\nNo operator credential existed, so one was made. It is shown this once:\n\n    \
             {token}\n\nUse it as `Authorization: Bearer <token>`. Set ROSTER_BOOTSTRAP_TOKEN \
             to choose your own.\n"
        );
    }
    let addr = app.local_addr();
    tracing::info!(%addr, database = %settings.database_url, backend = app.backend_name(), "serving");
    println!("roster listening on http://{addr}");
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn open_store(url: &DatabaseUrl) -> anyhow::Result<Store> {
    let store = Store::connect(url.expose(), &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

async fn cli_directory(url: &DatabaseUrl) -> anyhow::Result<Directory> {
    let store = open_store(url).await?;
    let passwords = crate::auth::PasswordHasher::new(PasswordParams::default())?;
    Ok(Directory::new(store, passwords))
}

async fn tenant(directory: &Directory, command: TenantCommand) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        TenantCommand::Create { name } => {
            let name = TenantName::parse(name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
            let tenant = directory.create_tenant(&caller, name).await?;
            println!("{}", tenant.id);
        }
        TenantCommand::List => {
            let mut page = PageRequest::default();
            loop {
                let tenants = directory.list_tenants(&caller, page).await?;
                for tenant in &tenants.items {
                    println!("{}\t{}", tenant.id, tenant.name);
                }
                match tenants.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

async fn api_key(directory: &Directory, command: ApiKeyCommand) -> anyhow::Result<()> {
    let ApiKeyCommand::Create {
        tenant,
        role,
        name,
        description,
        expires_at,
    } = command;
    let tenant = TenantId::parse(&tenant).map_err(|e| anyhow::anyhow!("--tenant {e}"))?;
    let new = NewApiKey {
        name: KeyName::parse(name).map_err(|e| anyhow::anyhow!("--name {e}"))?,
        description: Description::parse(description)
            .map_err(|e| anyhow::anyhow!("--description {e}"))?,
        role: match role {
            RoleArg::Admin => ApiKeyRole::Admin,
            RoleArg::Reader => ApiKeyRole::Reader,
        },
        expires_at: expires_at
            .as_deref()
            .map(Timestamp::parse_rfc3339)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--expires-at {e}"))?,
    };
    let created = directory
        .create_api_key(&Caller::cli(), tenant, new)
        .await?;
    eprintln!(
        "roster: created API key {} (role {})",
        created.key.id, created.key.role
    );
    println!("{}", created.secret.expose_secret());
    Ok(())
}
