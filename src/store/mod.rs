//! Persistence: the only place SQL lives.
//!
//! One [`Store`] serves SQLite (the embedded default: WAL, foreign keys, one writer
//! connection beside a pool of read-only ones) and PostgreSQL. The query text is
//! shared: both dialects take `$N` parameters, and every statement here is written in
//! the SQL both understand. What differs is only the column types (see the two
//! migration folders) and the encoding of [`Timestamp`](crate::domain::Timestamp).
//!
//! Reads go through [`Store`]; writes go through a [`Tx`], so that a change and its
//! audit event commit together or not at all.

mod access_tokens;
mod api_keys;
mod attributes;
mod audit;
mod changes;
mod codec;
mod counts;
mod group_sync;
mod groups;
mod hierarchy;
mod memberships;
mod operator;
mod password_resets;
mod pools;
mod positions;
mod profile;
mod query;
mod sessions;
mod sign_in;
mod sql;
pub mod statistics;
mod tenants;
mod transfer;
mod two_factor;
mod users;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use crate::domain::Change;
use sql::{Sql, bind_values};

pub use access_tokens::AccessTokenGrant;
pub use audit::AuditFilter;
pub use changes::FeedPage;
pub use operator::OperatorCredentialSource;
pub use sessions::{NewSession, SessionRecord, SessionStage, SessionSummary, SessionUser};
pub use sign_in::{ThrottleRule, ThrottleState, UserTokenGrant};
pub use transfer::UserKeys;
pub use two_factor::TotpEnrolment;
pub use webhooks::{AttemptOutcome, ClaimedWebhook, WebhookSecrets};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken: another object already has this value.
    #[error("duplicate {0}")]
    Duplicate(Unique),
    /// A referenced object does not exist (it was deleted meanwhile).
    #[error("a referenced object does not exist")]
    MissingReference,
    /// A stored value could not be read back into the domain.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("the database URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database could not be reached, or gave no connection in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// The database gave the transaction up because of concurrent ones (a deadlock or
    /// a serialization failure): trying again may succeed.
    #[error("the transaction lost a race with concurrent ones: {0}")]
    Contention(sqlx::Error),
    #[error(transparent)]
    Database(sqlx::Error),
}

/// The uniqueness rules the schema enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    UserEmail,
    UserName,
    GroupName,
    ApiKeySecret,
    /// A declared attribute's name.
    AttributeName,
    /// A value of a declared unique attribute.
    AttributeValue,
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unique::UserEmail => "user email",
            Unique::UserName => "user name",
            Unique::GroupName => "group name",
            Unique::ApiKeySecret => "API key secret",
            Unique::AttributeName => "attribute name",
            Unique::AttributeValue => "unique attribute value",
        })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_foreign_key_violation() {
                return StoreError::MissingReference;
            }
            if is_contention(db.as_ref()) {
                return StoreError::Contention(error);
            }
        }
        if is_unavailable(&error) {
            return StoreError::Unavailable(error);
        }
        StoreError::Database(error)
    }
}

/// Whether `error` says the database cannot be reached or cannot take the work now
/// (rather than that the work was wrong): no connection within the acquire timeout,
/// a connection that broke, SQLite's write lock held past the busy timeout, or a
/// PostgreSQL server that is shutting down, starting, or refusing connections.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            if let Some(postgres) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // SQLSTATE classes 08 (connection exception) and 57P (operator intervention).
                let code = postgres.code();
                code.starts_with("08") || code.starts_with("57P")
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes: the primary code is the low byte.
                db.code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6)) // BUSY, LOCKED
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Whether the database refused a statement only because of concurrent transactions:
/// PostgreSQL's deadlock_detected (40P01) and serialization_failure (40001). SQLite
/// has one writer connection, so its BUSY comes only from another process holding
/// the file: that is [`is_unavailable`], not a race to retry.
fn is_contention(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|postgres| matches!(postgres.code(), "40P01" | "40001"))
}

/// Maps a unique violation to the rule it broke; other errors pass through.
fn on_unique(error: sqlx::Error, rule: Unique) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(rule),
        _ => error.into(),
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool size; SQLite's read-only pool size.
    pub max_connections: u32,
    /// How long to wait for a connection, or for SQLite's write lock held by
    /// another process: past it the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a write may queue for the one writer connection behind
    /// this server's other writes. That is load, not an outage, so it is bounded by
    /// the request timeout rather than the acquire timeout.
    pub write_queue_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            write_queue_timeout: Duration::from_secs(30),
        }
    }
}

/// The directory's database: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Where numbered pages of the tenants' user lists start, as far as known.
    positions: std::sync::Arc<positions::Positions>,
    /// Every checkout of a connection, timed for the metrics.
    pools: std::sync::Arc<pools::PoolWatches>,
    /// Counts this process's commits that recorded changes, for the feed's readers
    /// waiting on them.
    changes_committed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Set when the server stops: the feed's readers stop waiting.
    closing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Clone)]
enum Backend {
    Sqlite {
        reader: SqlitePool,
        /// One connection: SQLite admits one writer at a time, and queueing writers
        /// here is cheaper and fairer than having them spin on SQLITE_BUSY.
        writer: SqlitePool,
        /// The file's log, synced on behalf of the commits; `None` in memory.
        group_sync: Option<std::sync::Arc<group_sync::GroupSync>>,
    },
    Postgres(PgPool),
}

/// The page cache of each reading SQLite connection, in KiB (SQLite's default is
/// 2,000; the writer keeps that).
const READER_CACHE_KIB: u32 = 256;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("src/store/migrations/postgres");

/// Runs `$body` with `$pool` bound to a connection checked out of the backend's pool
/// for reads (the checkout timed for the metrics).
macro_rules! read {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { reader, .. } => {
                let mut connection = $store.pools.read.acquire(reader).await?;
                let $pool = &mut *connection;
                $body
            }
            $crate::store::Backend::Postgres(pool) => {
                let mut connection = $store.pools.read.acquire(pool).await?;
                let $pool = &mut *connection;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection.
macro_rules! write {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(tx, _) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                $body
            }
            $crate::store::TxInner::Postgres(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                $body
            }
        }
    };
}

pub(crate) use {read, write};

impl Store {
    /// Opens the database named by `url` (`sqlite://PATH`, `sqlite::memory:` or
    /// `postgres://…`), creating a SQLite file when it does not exist. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            return Ok(Self::over(Backend::Postgres(pool), options, false));
        }
        if !url.starts_with("sqlite:") {
            return Err(StoreError::InvalidUrl(
                "expected sqlite://PATH, sqlite::memory: or postgres://…".into(),
            ));
        }
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.acquire_timeout);
        if url.contains(":memory:") || url.contains("mode=memory") {
            // An in-memory database lives and dies with its one connection.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(options.write_queue_timeout)
                .connect_with(connect)
                .await?;
            let backend = Backend::Sqlite {
                reader: pool.clone(),
                writer: pool,
                group_sync: None,
            };
            return Ok(Self::over(backend, options, true));
        }
        // NORMAL: a commit does not wait for the disk, but no write is acknowledged
        // before the log holding it is synced (see group_sync.rs).
        let group_sync = group_sync::GroupSync::of(connect.get_filename());
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // No ping before a checkout: the connection is in this process, and a ping is
        // one more round trip to its thread for every statement's checkout.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(options.write_queue_timeout)
            .connect_with(connect.clone())
            .await?;
        // Each reading connection keeps a page cache of its own: SQLite's default
        // 2 MiB on each of 16 was most of the server's memory under read load. The
        // operating system's page cache holds the file once for all of them, so a
        // small cache per reader costs a page read a system call, not a disk read.
        let reader_cache = format!("-{READER_CACHE_KIB}");
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true).pragma("cache_size", reader_cache))
            .await?;
        let group_sync = Some(std::sync::Arc::new(group_sync));
        Ok(Self::over(
            Backend::Sqlite {
                reader,
                writer,
                group_sync,
            },
            options,
            false,
        ))
    }

    fn over(backend: Backend, options: &StoreOptions, in_memory: bool) -> Self {
        let longest_write = options.write_queue_timeout;
        Self {
            pools: pools::PoolWatches::of(&backend, in_memory),
            backend,
            positions: std::sync::Arc::new(positions::Positions::new(longest_write)),
            changes_committed: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
            closing: Default::default(),
        }
    }

    /// Brings the schema up to date; safe to run on every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Writes a consistent copy of the whole SQLite database to the new file `path`
    /// (`VACUUM INTO` on a reading connection): one read transaction, so writers go
    /// on meanwhile and the copy holds exactly what was committed before it began.
    /// Answers `false` on PostgreSQL, which has no such copy (pg_dump makes one).
    pub async fn backup_to(&self, path: &std::path::Path) -> StoreResult<bool> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                let path = path.to_string_lossy().into_owned();
                sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(reader)
                    .await?;
                Ok(true)
            }
            Backend::Postgres(_) => Ok(false),
        }
    }

    /// Whether SQLite finds the database intact (`PRAGMA integrity_check`): `None`
    /// when it is, else what it found.
    pub async fn integrity_problems(&self) -> StoreResult<Option<String>> {
        let found: Vec<String> = read!(self, |pool| {
            sqlx::query_scalar(match &self.backend {
                Backend::Sqlite { .. } => "PRAGMA integrity_check",
                Backend::Postgres(_) => "SELECT 'ok'",
            })
            .fetch_all(pool)
            .await?
        });
        Ok((found != ["ok"]).then(|| found.join("; ")))
    }

    /// The file of a `sqlite://PATH` URL; `None` for PostgreSQL and memory.
    pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
        if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        SqliteConnectOptions::from_str(url)
            .ok()
            .map(|options| options.get_filename().to_path_buf())
    }

    /// Answers when the database answers a trivial query.
    pub async fn ping(&self) -> StoreResult<()> {
        read!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Starts a transaction for writing. On SQLite this waits for the one writer.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let inner = match &self.backend {
            Backend::Sqlite {
                writer, group_sync, ..
            } => TxInner::Sqlite(self.pools.write.begin(writer).await?, group_sync.clone()),
            Backend::Postgres(pool) => TxInner::Postgres(self.pools.write.begin(pool).await?),
        };
        Ok(Tx {
            inner,
            changes: Vec::new(),
            savepoints: Vec::new(),
            changes_committed: self.changes_committed.clone(),
        })
    }

    /// Marks each commit of this process that recorded changes (see
    /// [`Tx::record_changes`]), and the server's stopping ([`Store::closing`]);
    /// commits of other processes are not seen.
    pub fn changes_committed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes_committed.subscribe()
    }

    /// Tells those waiting for changes that the server is stopping: they answer
    /// what they have.
    pub fn stop_waits(&self) {
        (self.closing).store(true, std::sync::atomic::Ordering::SeqCst);
        self.changes_committed
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether the server is stopping ([`Store::stop_waits`]).
    pub fn closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { reader, writer, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// A write transaction: dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    inner: TxInner,
    /// The changes recorded for the feed, written when the transaction commits.
    changes: Vec<Change>,
    /// The open savepoints, each with how many changes were recorded before it.
    savepoints: Vec<(&'static str, usize)>,
    changes_committed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

enum TxInner {
    /// With the log to sync once committed, for a file.
    Sqlite(
        sqlx::Transaction<'static, Sqlite>,
        Option<std::sync::Arc<group_sync::GroupSync>>,
    ),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// How many rows of `columns` bound values one multi-row statement run by
    /// [`Tx::execute_bound`] should write: PostgreSQL gains from the fewest round
    /// trips (it takes 65,535 parameters); SQLite, in process, from statements short
    /// enough that the last one of a batch is not a large one prepared anew.
    pub(super) fn rows_per_statement(&self, columns: usize) -> usize {
        let parameters = match self.inner {
            TxInner::Sqlite(..) => 4_000,
            TxInner::Postgres(_) => 20_000,
        };
        (parameters / columns.max(1)).max(1)
    }

    /// Runs a statement whose every parameter was placed by [`Sql::bind`] and
    /// answers how many rows it changed.
    async fn execute_bound(&mut self, sql: Sql) -> Result<u64, sqlx::Error> {
        let text = self.bound_text(&sql);
        let done = write!(self, |conn| {
            bind_values!(sqlx::query(&text), sql.values)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(done)
    }

    /// The text to run `sql` by, when every parameter was placed by [`Sql::bind`]:
    /// on SQLite with anonymous parameters ([`Sql::anonymous_text`]).
    fn bound_text(&self, sql: &Sql) -> String {
        match self.inner {
            TxInner::Sqlite(..) => sql.anonymous_text(),
            TxInner::Postgres(_) => sql.text.clone(),
        }
    }
}

impl Tx {
    /// The clause that locks the selected rows of `table` until commit. SQLite needs
    /// none: its one writer connection already excludes every other writer.
    fn row_lock(&self, table: &str) -> String {
        match self.inner {
            TxInner::Sqlite(..) => String::new(),
            TxInner::Postgres(_) => format!(" FOR UPDATE OF {table}"),
        }
    }

    /// Commits, and answers once the commit is on disk.
    pub async fn commit(mut self) -> StoreResult<()> {
        let changed = !self.changes.is_empty();
        if changed {
            self.write_changes().await?;
        }
        match self.inner {
            TxInner::Sqlite(tx, group_sync) => {
                tx.commit().await?;
                if let Some(group_sync) = group_sync {
                    group_sync.make_durable().await?;
                }
            }
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        if changed {
            self.changes_committed
                .send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_stores_readers_keep_a_small_page_cache_and_its_writer_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let store = Store::connect(&url, &Default::default()).await.unwrap();
        let Backend::Sqlite { reader, writer, .. } = &store.backend else {
            unreachable!("a SQLite URL opens SQLite");
        };
        let cache = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("PRAGMA cache_size")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        assert_eq!(cache(reader.clone()).await, -i64::from(READER_CACHE_KIB));
        assert_eq!(cache(writer.clone()).await, -2000);
    }
}
