//! The command line: `roster serve`, `roster migrate`, the directory commands
//! (`roster tenant|user|group|api-key …`, in [`directory`]), `roster import`,
//! `roster export` (in [`transfer`]), `roster backup` and
//! `roster restore`. Every flag can also be set by its environment variable and by
//! the TOML file named with `--config`; a flag wins over the variable, the variable
//! over the file, and the file over the default.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::Application;
use crate::auth::PasswordParams;
use crate::config::{
    DatabaseUrl, GlobalConfig, LogFormat, ServeConfig, ServeSettings, check_file_keys, layered,
};
use crate::service::Directory;
use crate::store::{Store, StoreOptions};

mod directory;
mod transfer;

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "A self-hosted, multi-tenant directory of users and groups that also authenticates them",
    after_help = "Every setting can also be given by the environment variable shown, or by a key \
        of the same name (with underscores) in the TOML file given to --config. Precedence: \
        flag, then environment, then file, then default."
)]
pub struct Cli {
    /// TOML file with settings (keys as the long flags, with underscores)
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(flatten)]
    global: GlobalConfig,

    #[command(subcommand)]
    command: Command,
}

// Parsed once per run, so `serve`'s many settings are not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeConfig),
    /// Bring the database schema up to date, then exit.
    Migrate,
    #[command(flatten)]
    Directory(directory::DirectoryCommand),
    /// Copy a SQLite database, consistently, while the server keeps serving it.
    Backup {
        /// The new file to write (it must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Write a tenant out as NDJSON: attributes, groups, users, API keys (never secrets).
    Export(transfer::ExportArgs),
    /// Bring users, groups and memberships in from NDJSON, CSV, SCIM or a Keycloak realm.
    Import(transfer::ImportArgs),
    /// Replace a SQLite database with a backup (stop the server first).
    Restore {
        /// The backup to restore (`roster backup --to`'s file).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// Runs the command line and reports failure as the exit code.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let settings = match Settings::layer(&cli, &matches) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("roster: {error:#}");
            return ExitCode::from(2);
        }
    };
    let log = init_logging(&settings.global);
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
    let outcome = runtime.block_on(execute(cli.command, settings));
    // The log's last lines are written before the outcome is told.
    drop(log);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The settings after layering the file under the environment and the flags.
struct Settings {
    global: GlobalConfig,
    /// `roster serve`'s own, when that is the command.
    serve: Option<ServeConfig>,
    /// The TOML file the settings were read from, if any.
    file: Option<PathBuf>,
}

impl Settings {
    fn layer(cli: &Cli, matches: &clap::ArgMatches) -> anyhow::Result<Self> {
        let file = cli.config.as_deref();
        if let Some(path) = file {
            check_file_keys(path, &setting_keys())?;
        }
        let global = layered(&cli.global, matches, file)?;
        let serve = match (&cli.command, matches.subcommand()) {
            (Command::Serve(serve), Some((_, serve_matches))) => {
                Some(layered(serve, serve_matches, file)?)
            }
            _ => None,
        };
        Ok(Self {
            global,
            serve,
            file: file.map(Path::to_path_buf),
        })
    }
}

/// The name of every setting a TOML file may hold: each long flag, with underscores.
pub fn setting_keys() -> BTreeSet<String> {
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .map(|serve| serve.get_arguments().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    command
        .get_arguments()
        .chain(serve.iter())
        .map(|arg| arg.get_id().to_string())
        .filter(|id| !matches!(id.as_str(), "config" | "help" | "version"))
        .collect()
}

/// Logs to stderr from a thread of its own: a request hands its line over and goes
/// on, and the thread writes whatever lines are waiting in one write. Were 128,000
/// lines waiting, a request would wait for room rather than lose its line. The log
/// is flushed when the returned guard is dropped.
fn init_logging(global: &GlobalConfig) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    // sqlx logs every statement at info; its warnings (slow queries) are what matter.
    let filter = tracing_subscriber::EnvFilter::try_new(format!("sqlx=warn,{}", global.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("roster-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colour codes only for a person at a terminal, never into a file or a collector.
        .with_ansi(std::io::stderr().is_terminal());
    match global.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    guard
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    let url = &settings.global.database_url;
    match (command, settings.serve) {
        (Command::Serve(_), Some(serve)) => {
            serve_until_signal(ServeSettings::from_config(&settings.global, serve)?).await
        }
        (Command::Serve(_), None) => anyhow::bail!("serve settings were not parsed"),
        (Command::Migrate, _) => {
            let store = open_store(url).await?;
            store.close().await;
            eprintln!("roster: {url} is up to date");
            Ok(())
        }
        (Command::Directory(command), _) => {
            directory::run(command, &settings.global, settings.file.as_deref()).await
        }
        (Command::Backup { to }, _) => backup(url, &to).await,
        (Command::Export(args), _) => transfer::export(url, args).await,
        (Command::Import(args), _) => transfer::import(url, args).await,
        (Command::Restore { from }, _) => restore(url, &from).await,
    }
}

/// Copies the database to `to` while it serves; PostgreSQL is pg_dump's.
async fn backup(url: &DatabaseUrl, to: &Path) -> anyhow::Result<()> {
    if Store::sqlite_file(url.expose()).is_none() {
        anyhow::bail!(
            "roster backup copies a SQLite file; back PostgreSQL up with pg_dump \
             (docs/operations.md)"
        );
    }
    if to.exists() {
        anyhow::bail!("{} exists already; name a new file", to.display());
    }
    let store = Store::connect(url.expose(), &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    let copied = store.backup_to(to).await;
    store.close().await;
    copied.with_context(|| format!("cannot write the backup {}", to.display()))?;
    eprintln!("roster: {url} copied to {}", to.display());
    Ok(())
}

/// Replaces the SQLite file of `url` with the backup `from`, once the backup proves
/// intact: copied beside the database, synced, then renamed over it (the old
/// file's write-ahead log goes with it).
async fn restore(url: &DatabaseUrl, from: &Path) -> anyhow::Result<()> {
    let Some(target) = Store::sqlite_file(url.expose()) else {
        anyhow::bail!(
            "roster restore replaces a SQLite file; restore PostgreSQL with pg_restore \
             (docs/operations.md)"
        );
    };
    if !from.is_file() {
        anyhow::bail!("{} is not a file", from.display());
    }
    let backup = Store::connect(
        &format!("sqlite://{}", from.display()),
        &StoreOptions::default(),
    )
    .await
    .with_context(|| format!("cannot open the backup {}", from.display()))?;
    let problems = backup.integrity_problems().await;
    backup.close().await;
    if let Some(problems) = problems? {
        anyhow::bail!("the backup {} is damaged: {problems}", from.display());
    }
    let staged = target.with_extension("restoring");
    std::fs::copy(from, &staged)
        .with_context(|| format!("cannot copy the backup to {}", staged.display()))?;
    std::fs::File::open(&staged)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
    }
    std::fs::rename(&staged, &target)
        .with_context(|| format!("cannot put the backup in place of {}", target.display()))?;
    // The schema of an older backup is brought up to date here, as on every start.
    let restored = open_store(url).await?;
    restored.close().await;
    eprintln!(
        "roster: {} restored from {}",
        target.display(),
        from.display()
    );
    Ok(())
}

async fn serve_until_signal(settings: ServeSettings) -> anyhow::Result<()> {
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
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(addr = %metrics, "serving metrics");
        println!("roster serving metrics on http://{metrics}/metrics");
    }
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

/// The settings table of the README, written from the flags themselves so that the
/// two cannot drift apart (a test holds the README to it).
pub fn settings_table() -> String {
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .map(|serve| serve.get_arguments().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let mut table = String::from(
        "| flag | environment | TOML key | default | what it sets |\n|---|---|---|---|---|\n",
    );
    let mut seen = BTreeSet::new();
    for arg in command.get_arguments().chain(serve.iter()) {
        let id = arg.get_id().to_string();
        let Some(long) = arg.get_long() else { continue };
        if !seen.insert(id.clone()) {
            continue;
        }
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(|name| format!(" {name}"))
            .unwrap_or_default();
        let env = arg
            .get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default();
        let key = if id == "config" {
            String::new()
        } else {
            format!("`{id}`")
        };
        let default = match arg.get_default_values() {
            [] => String::new(),
            [value] if value.is_empty() => String::new(),
            values => values
                .iter()
                .map(|v| format!("`{}`", v.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let help = arg
            .get_help()
            .map(|help| help.to_string().replace('|', "\\|"))
            .unwrap_or_default();
        table.push_str(&format!(
            "| `--{long}{value}` | {env} | {key} | {default} | {help} |\n"
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (Cli, clap::ArgMatches) {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .expect("the arguments parse");
        let cli = Cli::from_arg_matches(&matches).expect("the arguments parse");
        (cli, matches)
    }

    #[test]
    fn the_readme_lists_every_setting_as_the_flags_declare_it() {
        let readme = include_str!("../../README.md");
        let table = settings_table();
        assert!(
            readme.contains(&table),
            "README.md's settings table is not what the flags declare; it should read:\n\n{table}"
        );
    }

    #[test]
    fn a_file_setting_beats_the_default_and_a_flag_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "max_body_bytes = 4096\nidle_timeout_secs = 9\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let (cli, matches) = parse(&[
            "roster",
            "serve",
            "--config",
            file,
            "--idle-timeout-secs",
            "7",
        ]);
        let settings = Settings::layer(&cli, &matches).unwrap();
        let serve = ServeSettings::from_config(&settings.global, settings.serve.unwrap()).unwrap();
        assert_eq!(serve.http.max_body_bytes, 4096);
        assert_eq!(serve.connections.idle_timeout.as_secs(), 7);
        assert_eq!(
            serve.http.trusted_proxies,
            crate::http::credentials::TrustedProxies::parse("10.0.0.0/8").unwrap()
        );
        assert_eq!(serve.listen, crate::config::DEFAULT_LISTEN);
    }

    #[test]
    fn webhook_settings_come_from_the_flags_and_a_short_lease_is_refused() {
        let (cli, matches) = parse(&[
            "roster",
            "serve",
            "--webhook-allowed-networks",
            "127.0.0.1, 10.0.0.0/8",
            "--webhook-lease-secs",
            "30",
            "--webhook-retry-period-secs",
            "600",
        ]);
        let settings = Settings::layer(&cli, &matches).unwrap();
        let serve = ServeSettings::from_config(&settings.global, settings.serve.unwrap()).unwrap();
        assert!(
            serve
                .webhooks
                .allowed_networks
                .allows("10.1.2.3".parse().unwrap())
        );
        assert!(
            !serve
                .webhooks
                .allowed_networks
                .allows("192.168.0.1".parse().unwrap())
        );
        assert_eq!(serve.webhooks.lease.as_secs(), 30);
        assert_eq!(serve.webhooks.give_up_after.as_secs(), 600);

        let (cli, matches) = parse(&["roster", "serve", "--webhook-lease-secs", "19"]);
        let settings = Settings::layer(&cli, &matches).unwrap();
        let refused = ServeSettings::from_config(&settings.global, settings.serve.unwrap());
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("webhook_lease_secs")
        );
    }

    #[test]
    fn the_defaults_of_the_flags_are_the_defaults_of_the_settings() {
        let (cli, matches) = parse(&["roster", "serve"]);
        let settings = Settings::layer(&cli, &matches).unwrap();
        let serve = ServeSettings::from_config(&settings.global, settings.serve.unwrap()).unwrap();
        let defaults = ServeSettings::default();
        assert_eq!(format!("{serve:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn mail_settings_come_from_flags_and_the_file_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "smtp_url = \"smtps://mailer:s3cret@smtp.example\"\n\
             public_url = \"https://roster.example.com/\"\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let serve = |args: &[&str]| {
            let (cli, matches) = parse(args);
            let settings = Settings::layer(&cli, &matches)?;
            ServeSettings::from_config(&settings.global, settings.serve.unwrap())
        };
        let settings = serve(&[
            "roster",
            "serve",
            "--config",
            file,
            "--smtp-from",
            "ops@acme.example",
        ])
        .unwrap();
        let mail = &settings.mail;
        assert_eq!(
            mail.smtp_url.as_ref().map(|u| u.expose()),
            Some("smtps://mailer:s3cret@smtp.example")
        );
        assert_eq!(mail.from.email.to_string(), "ops@acme.example");
        assert_eq!(
            mail.public_url.as_ref().map(|u| u.as_str()),
            Some("https://roster.example.com")
        );
        assert!(!format!("{settings:?}").contains("s3cret"));

        for (flag, value) in [
            ("--smtp-from", "not an address"),
            ("--public-url", "ftp://roster.example.com"),
        ] {
            let error = serve(&["roster", "serve", flag, value]).err().unwrap();
            let setting = flag.trim_start_matches("--").replace('-', "_");
            assert!(format!("{error:#}").contains(&setting), "{error:#}");
        }
        let unset = serve(&["roster", "serve", "--smtp-url", ""]).unwrap();
        assert!(unset.mail.smtp_url.is_none());
    }

    #[test]
    fn metrics_are_served_only_where_an_address_is_given() {
        let serve = |args: &[&str]| {
            let (cli, matches) = parse(args);
            let settings = Settings::layer(&cli, &matches).unwrap();
            ServeSettings::from_config(&settings.global, settings.serve.unwrap()).unwrap()
        };
        assert_eq!(serve(&["roster", "serve"]).metrics_listen, None);
        assert_eq!(
            serve(&["roster", "serve", "--metrics-listen", "127.0.0.1:9090"]).metrics_listen,
            Some("127.0.0.1:9090".to_owned())
        );
        assert_eq!(
            serve(&["roster", "serve", "--metrics-listen", ""]).metrics_listen,
            None
        );
    }

    #[test]
    fn a_file_key_no_setting_has_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "max_body_byte = 4096\n").unwrap();
        let (cli, matches) = parse(&["roster", "serve", "--config", file.to_str().unwrap()]);
        let error = Settings::layer(&cli, &matches).err().unwrap();
        assert!(format!("{error:#}").contains("max_body_byte"));
    }
}
