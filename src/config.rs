//! Settings, read once at start. Each setting is one field below, with its doc
//! comment (the `--help` text) and its default (taken from the part of Roster that
//! uses it); that one field is at once a flag, an environment variable and a key of
//! the optional TOML file. Layers, later winning: the default, the file, the
//! environment variable, the flag.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::parser::ValueSource;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::PasswordParams;
use crate::domain::{Networks, PasswordPolicy};
use crate::http::HttpLimits;
use crate::http::credentials::TrustedProxies;
use crate::http::server::ConnectionLimits;
use crate::mail::{PublicUrl, SmtpUrl};
use crate::service::{SessionPolicy, SignInPolicy};
use crate::store::StoreOptions;
use crate::webhooks::{AllowedNetworks, WebhookSettings};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://roster.db";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// A database URL; `Debug` and `Display` hide its password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_password(&self.0)
    }
}

/// `url` with the password of its user information, if any, replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            let slash = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{masked}@{host}{slash}{path}")
        }
        None => url.to_owned(),
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The settings every command takes.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct GlobalConfig {
    /// Database: sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DB
    #[arg(
        long,
        global = true,
        env = "ROSTER_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    pub database_url: DatabaseUrl,

    /// Log format: human (one readable line per event) or json (one object per line)
    #[arg(
        long,
        global = true,
        env = "ROSTER_LOG_FORMAT",
        value_name = "FORMAT",
        hide_possible_values = true,
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,

    /// Log filter, in tracing's EnvFilter syntax
    #[arg(
        long,
        global = true,
        env = "ROSTER_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log_level: String,
}

/// What `roster serve` takes besides the global settings.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct ServeConfig {
    /// Address to listen on
    #[arg(long, env = "ROSTER_LISTEN", value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,

    /// Address to serve Prometheus metrics on (GET /metrics), apart from the API; none
    /// by default, and then no metrics are served
    #[arg(long, env = "ROSTER_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Largest request body accepted, in bytes (larger: 413)
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", value_name = "BYTES",
        default_value_t = HttpLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,

    /// Longest a request may take, body included, in seconds (then 408)
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECS", value_name = "SECONDS",
        default_value_t = HttpLimits::default().request_timeout.as_secs())]
    pub request_timeout_secs: u64,

    /// Longest request target (path and query) answered, in bytes (longer: 414)
    #[arg(long, env = "ROSTER_MAX_URI_BYTES", value_name = "BYTES",
        default_value_t = HttpLimits::default().max_uri_bytes)]
    pub max_uri_bytes: usize,

    /// Most bytes of request header fields answered (more: 431)
    #[arg(long, env = "ROSTER_MAX_HEADER_BYTES", value_name = "BYTES",
        default_value_t = HttpLimits::default().max_header_bytes)]
    pub max_header_bytes: usize,

    /// Time a client has to send a request's whole header, counted from the
    /// connection's opening or its previous response (cuts slow-header clients)
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT_SECS", value_name = "SECONDS",
        default_value_t = ConnectionLimits::default().header_timeout.as_secs())]
    pub header_timeout_secs: u64,

    /// Time a keep-alive connection may stay silent between requests before it is closed
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT_SECS", value_name = "SECONDS",
        default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    pub idle_timeout_secs: u64,

    /// Open connections served at once; more wait in the listen queue
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", value_name = "N",
        default_value_t = ConnectionLimits::default().max_connections)]
    pub max_connections: usize,

    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish, in seconds
    #[arg(long, env = "ROSTER_SHUTDOWN_GRACE_SECS", value_name = "SECONDS",
        default_value_t = ConnectionLimits::default().shutdown_grace.as_secs())]
    pub shutdown_grace_secs: u64,

    /// How long the change feed (GET /v1/tenants/{t}/events) keeps a change, in
    /// days; 0 keeps every change
    #[arg(long, env = "ROSTER_CHANGE_RETENTION_DAYS", value_name = "DAYS",
        default_value_t = DEFAULT_CHANGE_RETENTION_DAYS)]
    pub change_retention_days: u64,

    /// Private, loopback or link-local addresses and networks webhooks may be
    /// delivered to (comma-separated); none by default, so only public addresses
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOWED_NETWORKS", value_name = "LIST", default_value = "",
        hide_default_value = true, value_parser = Networks::parse)]
    pub webhook_allowed_networks: Networks,

    /// A webhook whose deliveries have failed this long, retried with backoff, is
    /// disabled, in seconds
    #[arg(long, env = "ROSTER_WEBHOOK_RETRY_PERIOD_SECS", value_name = "SECONDS",
        default_value_t = WebhookSettings::default().give_up_after.as_secs())]
    pub webhook_retry_period_secs: u64,

    /// How long an instance holds a webhook it delivers without taking a step: after
    /// it, an instance that died is taken over by another, in seconds (at least 20,
    /// longer than one delivery may take)
    #[arg(long, env = "ROSTER_WEBHOOK_LEASE_SECS", value_name = "SECONDS",
        default_value_t = WebhookSettings::default().lease.as_secs())]
    pub webhook_lease_secs: u64,

    /// PostgreSQL pool size; SQLite read-connection pool size
    #[arg(long, env = "ROSTER_DATABASE_MAX_CONNECTIONS", value_name = "N",
        default_value_t = StoreOptions::default().max_connections)]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection (or SQLite's write lock)
    /// before it is answered 503, in seconds
    #[arg(long, env = "ROSTER_DATABASE_ACQUIRE_TIMEOUT_SECS", value_name = "SECONDS",
        default_value_t = StoreOptions::default().acquire_timeout.as_secs())]
    pub database_acquire_timeout_secs: u64,

    /// Argon2id memory cost in KiB
    #[arg(long, env = "ROSTER_PASSWORD_MEMORY_KIB", value_name = "KIB",
        default_value_t = PasswordParams::default().memory_kib)]
    pub password_memory_kib: u32,

    /// Argon2id iterations
    #[arg(long, env = "ROSTER_PASSWORD_ITERATIONS", value_name = "N",
        default_value_t = PasswordParams::default().iterations)]
    pub password_iterations: u32,

    /// Argon2id parallelism
    #[arg(long, env = "ROSTER_PASSWORD_PARALLELISM", value_name = "N",
        default_value_t = PasswordParams::default().parallelism)]
    pub password_parallelism: u32,

    /// Least length of a new password, in characters (1 to 256)
    #[arg(long, env = "ROSTER_PASSWORD_MIN_CHARS", value_name = "N",
        default_value_t = PasswordPolicy::default().min_chars())]
    pub password_min_chars: usize,

    /// Least zxcvbn strength score of a new password, 0 (any) to 4
    #[arg(long, env = "ROSTER_PASSWORD_MIN_STRENGTH", value_name = "SCORE",
        default_value_t = PasswordPolicy::default().min_strength())]
    pub password_min_strength: u8,

    /// Password hashing threads, each keeping 19 MiB once used [default: the number of CPUs]
    #[arg(long, env = "ROSTER_PASSWORD_MAX_CONCURRENT", value_name = "N")]
    pub password_max_concurrent: Option<usize>,

    /// Lifetime of access tokens (sign-in, OAuth, Anodot), in seconds
    #[arg(long, env = "ROSTER_TOKEN_TTL_SECS", value_name = "SECONDS",
        default_value_t = SignInPolicy::default().token_ttl_seconds)]
    pub token_ttl_secs: i64,

    /// A web console session unused this long ends, in seconds
    #[arg(long, env = "ROSTER_SESSION_IDLE_SECS", value_name = "SECONDS",
        default_value_t = SessionPolicy::default().idle_seconds)]
    pub session_idle_secs: i64,

    /// A web console session ends this long after sign-in however busy, in seconds
    #[arg(long, env = "ROSTER_SESSION_ABSOLUTE_SECS", value_name = "SECONDS",
        default_value_t = SessionPolicy::default().absolute_seconds)]
    pub session_absolute_secs: i64,

    /// Failed sign-ins of one account from one client address, within the window, that
    /// lock it for that address
    #[arg(long, env = "ROSTER_LOCKOUT_MAX_FAILURES", value_name = "N",
        default_value_t = SignInPolicy::default().max_failures)]
    pub lockout_max_failures: i64,

    /// Failed sign-ins of one account from all addresses together, within the window,
    /// that lock it for every address
    #[arg(long, env = "ROSTER_LOCKOUT_MAX_ACCOUNT_FAILURES", value_name = "N",
        default_value_t = SignInPolicy::default().max_account_failures)]
    pub lockout_max_account_failures: i64,

    /// The window failed sign-ins are counted in, in seconds
    #[arg(long, env = "ROSTER_LOCKOUT_WINDOW_SECS", value_name = "SECONDS",
        default_value_t = SignInPolicy::default().failure_window_seconds)]
    pub lockout_window_secs: i64,

    /// How long a locked account stays locked, in seconds
    #[arg(long, env = "ROSTER_LOCKOUT_SECS", value_name = "SECONDS",
        default_value_t = SignInPolicy::default().lockout_seconds)]
    pub lockout_secs: i64,

    /// Sign-in attempts one client address may make per lockout window
    #[arg(long, env = "ROSTER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", value_name = "N",
        default_value_t = SignInPolicy::default().max_attempts_per_address)]
    pub login_max_attempts_per_address: i64,

    /// Proxies whose X-Forwarded-For names the client: comma-separated addresses or
    /// networks (10.0.0.0/8,fd00::/8); none by default, so the TCP peer is the client
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_name = "LIST", default_value = "",
        hide_default_value = true, value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,

    /// SMTP server that sends invitations and password resets: smtp://[USER:PASS@]HOST[:PORT],
    /// with ?tls=required for STARTTLS, or smtps://… for TLS from the start; none by
    /// default, and then no mail is sent (links are answered to administrators instead)
    #[arg(
        long,
        env = "ROSTER_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of the mail: an address, with or without a name
    #[arg(long, env = "ROSTER_SMTP_FROM", value_name = "ADDRESS",
        default_value = crate::mail::DEFAULT_FROM)]
    pub smtp_from: String,

    /// Base URL that links in mail start with, as users reach the server
    /// (https://roster.example.com) [default: http:// and the address the server listens on]
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

/// Where mail goes, who sends it and where its links lead.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `None`: no mail is sent.
    pub smtp_url: Option<SmtpUrl>,
    pub from: lettre::message::Mailbox,
    /// `None`: `http://` and the address the server bound.
    pub public_url: Option<PublicUrl>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: crate::mail::default_sender(),
            public_url: None,
        }
    }
}

/// Everything `roster serve` runs with, grouped by the part of Roster that uses it.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: String,
    /// `None`: no metrics listener, and no request is counted.
    pub metrics_listen: Option<String>,
    pub database_url: DatabaseUrl,
    pub http: HttpLimits,
    pub connections: ConnectionLimits,
    pub store: StoreOptions,
    pub password: PasswordParams,
    pub password_policy: PasswordPolicy,
    pub sign_in: SignInPolicy,
    pub sessions: SessionPolicy,
    pub mail: MailSettings,
    /// How long the change feed keeps a change; `None`: for ever.
    pub change_retention: Option<Duration>,
    pub webhooks: WebhookSettings,
}

/// The shortest webhook lease: a delivery takes at most 15 s, and a lease must not
/// run out while its holder is still waiting on the receiver.
const MIN_WEBHOOK_LEASE_SECS: u64 = 20;

/// How long the change feed keeps a change unless configured otherwise.
pub const DEFAULT_CHANGE_RETENTION_DAYS: u64 = 7;

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            metrics_listen: None,
            database_url: DatabaseUrl::new(DEFAULT_DATABASE_URL),
            http: HttpLimits::default(),
            connections: ConnectionLimits::default(),
            store: StoreOptions::default(),
            password: PasswordParams::default(),
            password_policy: PasswordPolicy::default(),
            sign_in: SignInPolicy::default(),
            sessions: SessionPolicy::default(),
            mail: MailSettings::default(),
            change_retention: Some(Duration::from_secs(DEFAULT_CHANGE_RETENTION_DAYS * 86_400)),
            webhooks: WebhookSettings::default(),
        }
    }
}

impl ServeSettings {
    /// Groups the layered settings for the parts of Roster that use them, refusing
    /// those out of their range.
    pub fn from_config(global: &GlobalConfig, serve: ServeConfig) -> anyhow::Result<Self> {
        let window = serve.lockout_window_secs;
        let password_defaults = PasswordParams::default();
        let password_policy =
            PasswordPolicy::new(serve.password_min_chars, serve.password_min_strength)
                .map_err(|reason| anyhow::anyhow!("password_min_chars/strength: {reason}"))?;
        let mail = MailSettings {
            smtp_url: serve.smtp_url.filter(|url| !url.expose().trim().is_empty()),
            from: crate::mail::parse_sender(&serve.smtp_from)
                .map_err(|error| anyhow::anyhow!("smtp_from: {error}"))?,
            public_url: serve
                .public_url
                .as_deref()
                .filter(|url| !url.trim().is_empty())
                .map(PublicUrl::parse)
                .transpose()
                .map_err(|error| anyhow::anyhow!("public_url: {error}"))?,
        };
        if serve.webhook_lease_secs < MIN_WEBHOOK_LEASE_SECS {
            anyhow::bail!(
                "webhook_lease_secs: must be at least {MIN_WEBHOOK_LEASE_SECS}, longer than \
                 one delivery may take"
            );
        }
        Ok(Self {
            listen: serve.listen,
            metrics_listen: serve
                .metrics_listen
                .filter(|address| !address.trim().is_empty()),
            database_url: global.database_url.clone(),
            http: HttpLimits {
                max_body_bytes: serve.max_body_bytes,
                request_timeout: Duration::from_secs(serve.request_timeout_secs),
                trusted_proxies: serve.trusted_proxies,
                max_uri_bytes: serve.max_uri_bytes,
                max_header_bytes: serve.max_header_bytes,
            },
            connections: ConnectionLimits {
                header_timeout: Duration::from_secs(serve.header_timeout_secs),
                idle_timeout: Duration::from_secs(serve.idle_timeout_secs),
                max_connections: serve.max_connections,
                shutdown_grace: Duration::from_secs(serve.shutdown_grace_secs),
            },
            store: StoreOptions {
                max_connections: serve.database_max_connections,
                acquire_timeout: Duration::from_secs(serve.database_acquire_timeout_secs),
                write_queue_timeout: Duration::from_secs(serve.request_timeout_secs),
            },
            password: PasswordParams {
                memory_kib: serve.password_memory_kib,
                iterations: serve.password_iterations,
                parallelism: serve.password_parallelism,
                max_concurrent: serve
                    .password_max_concurrent
                    .unwrap_or(password_defaults.max_concurrent),
            },
            sign_in: SignInPolicy {
                max_failures: serve.lockout_max_failures,
                max_account_failures: serve.lockout_max_account_failures,
                failure_window_seconds: window,
                lockout_seconds: serve.lockout_secs,
                max_attempts_per_address: serve.login_max_attempts_per_address,
                address_window_seconds: window,
                token_ttl_seconds: serve.token_ttl_secs,
            },
            sessions: SessionPolicy {
                idle_seconds: serve.session_idle_secs,
                absolute_seconds: serve.session_absolute_secs,
            },
            password_policy,
            mail,
            change_retention: (serve.change_retention_days > 0)
                .then(|| Duration::from_secs(serve.change_retention_days.saturating_mul(86_400))),
            webhooks: WebhookSettings {
                allowed_networks: AllowedNetworks::new(serve.webhook_allowed_networks),
                give_up_after: Duration::from_secs(serve.webhook_retry_period_secs),
                lease: Duration::from_secs(serve.webhook_lease_secs),
                ..WebhookSettings::default()
            },
        })
    }
}

/// Layers one group of parsed arguments: clap's defaults, under the TOML file, under
/// what the environment or the command line set. `matches` are the matches the group
/// was parsed from: they tell an explicit value from a default.
pub fn layered<T>(parsed: &T, matches: &clap::ArgMatches, file: Option<&Path>) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned,
{
    let explicit: figment::value::Dict = match figment::value::Value::serialize(parsed)? {
        figment::value::Value::Dict(_, values) => values
            .into_iter()
            .filter(|(key, _)| {
                matches!(
                    matches.value_source(key),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .collect(),
        _ => anyhow::bail!("settings must serialize as a map"),
    };
    let mut figment = Figment::from(Serialized::defaults(parsed));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(Serialized::defaults(explicit))
        .extract()
        .map_err(|error| match file {
            Some(path) => anyhow::anyhow!("invalid config file {}: {error}", path.display()),
            None => anyhow::anyhow!("invalid settings: {error}"),
        })
}

/// Refuses a TOML file that names a key no setting has, or cannot be read.
pub fn check_file_keys(path: &Path, known: &BTreeSet<String>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))?;
    let unknown: Vec<&String> = table.keys().filter(|key| !known.contains(*key)).collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "invalid config file {}: unknown key(s) {:?}; the keys are the long flags with \
             underscores",
            path.display(),
            unknown
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_hide_their_password() {
        let url = DatabaseUrl::new("postgres://roster:s3cret@db.example:5432/roster");
        assert_eq!(
            url.redacted(),
            "postgres://roster:***@db.example:5432/roster"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::new("sqlite://roster.db").redacted(),
            "sqlite://roster.db"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://postgres@127.0.0.1/test").redacted(),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
