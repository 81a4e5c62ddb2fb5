//! Settings, read once at start from flags, environment variables and an optional
//! TOML file, in that order of precedence, over built-in defaults.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::PasswordParams;
use crate::http::credentials::TrustedProxies;
use crate::service::SignInPolicy;
use crate::store::StoreOptions;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://roster.db";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// A database URL; `Debug` and `Display` hide its password.
#[derive(Clone, PartialEq, Eq)]
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
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
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
            None => self.0.clone(),
        }
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

/// The optional TOML file (`--config`): every key is optional and named as the long
/// flag with underscores (`database_url`, `max_body_bytes` …).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub database_max_connections: Option<u32>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub password_memory_kib: Option<u32>,
    pub password_iterations: Option<u32>,
    pub password_parallelism: Option<u32>,
    pub password_max_concurrent: Option<usize>,
    pub token_ttl_secs: Option<i64>,
    pub lockout_max_failures: Option<i64>,
    pub lockout_window_secs: Option<i64>,
    pub lockout_secs: Option<i64>,
    pub login_max_attempts_per_address: Option<i64>,
    /// Proxies whose `X-Forwarded-For` names the client: addresses or networks.
    pub trusted_proxies: Option<Vec<String>>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }
}

/// Everything `roster serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: String,
    pub database_url: DatabaseUrl,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub store: StoreOptions,
    pub password: PasswordParams,
    pub sign_in: SignInPolicy,
    pub trusted_proxies: TrustedProxies,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            database_url: DatabaseUrl::new(DEFAULT_DATABASE_URL),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            store: StoreOptions::default(),
            password: PasswordParams::default(),
            sign_in: SignInPolicy::default(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
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

    #[test]
    fn config_files_refuse_unknown_keys() {
        assert!(toml::from_str::<FileConfig>("listen = \"0.0.0.0:80\"").is_ok());
        assert!(toml::from_str::<FileConfig>("lisen = \"0.0.0.0:80\"").is_err());
    }
}
