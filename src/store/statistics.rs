//! The planner's statistics. PostgreSQL's autovacuum keeps its own; SQLite gathers
//! them only when asked (`ANALYZE`), and without them plans a search of a large
//! tenant by a rare prefix as a walk of all its users in id order (430 ms at a
//! million users, against 3 ms through the name's index). So Roster asks: when the
//! server starts, every [`CHECK_EVERY`] while it serves, and after an import's
//! batches have doubled what the statistics knew of, each time the users stored
//! have doubled or halved since the statistics were taken.
//!
//! SQLite samples [`ANALYSIS_LIMIT`] rows of each index instead of reading them all:
//! a refresh takes milliseconds at any size, and blocks writers only that long.
//! Every connection plans with the new figures from its next statement on, as
//! `ANALYZE` changes the schema's version, which each statement checks.

use std::time::Duration;

use super::{Backend, Store, StoreResult};

/// How often a serving instance checks whether its statistics are due.
pub const CHECK_EVERY: Duration = Duration::from_secs(600);

/// Rows of each index SQLite's `ANALYZE` looks at.
const ANALYSIS_LIMIT: u32 = 1000;

/// Below this many users, any plan is fast: statistics are first taken at it.
const FIRST_AT_USERS: i64 = 1000;

impl Store {
    /// Takes the planner's statistics now: an approximate `ANALYZE` on SQLite, a
    /// (sampled) `ANALYZE` on PostgreSQL, which would otherwise wait for
    /// autovacuum after a bulk load.
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                let mut conn = writer.acquire().await?;
                sqlx::query(&format!("PRAGMA analysis_limit = {ANALYSIS_LIMIT}"))
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ANALYZE").execute(&mut *conn).await?;
            }
            Backend::Postgres(pool) => {
                sqlx::query("ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Refreshes SQLite's statistics when the users stored have doubled or halved
    /// since they were taken (or, with none taken, reached [`FIRST_AT_USERS`]);
    /// answers whether it did. PostgreSQL keeps its own.
    pub async fn keep_statistics(&self) -> StoreResult<bool> {
        let Backend::Sqlite { reader, .. } = &self.backend else {
            return Ok(false);
        };
        let users: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(users), 0) FROM tenant_counts")
            .fetch_one(reader)
            .await?;
        // The first figure of an index's statistics is its number of rows; the
        // table itself is the index named after it (users has no rowid).
        let known: Option<String> = sqlx::query_scalar(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'users' AND idx = 'users'",
        )
        .fetch_optional(reader)
        .await
        .or_else(|error| match &error {
            // No statistics were ever taken: the table is made by the first ANALYZE.
            sqlx::Error::Database(db) if db.message().contains("no such table") => Ok(None),
            _ => Err(error),
        })?;
        let known = known.and_then(|stat| stat.split(' ').next()?.parse::<i64>().ok());
        if !due(known, users) {
            return Ok(false);
        }
        self.refresh_statistics().await?;
        Ok(true)
    }
}

/// Whether statistics that knew of `known` users (none taken: `None`) are due with
/// `users` stored.
fn due(known: Option<i64>, users: i64) -> bool {
    match known {
        None => users >= FIRST_AT_USERS,
        Some(known) => users >= FIRST_AT_USERS && (users > 2 * known || 2 * users < known),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Filter, UserId};
    use crate::store::StoreOptions;
    use crate::store::sql::plan;
    use crate::store::users::test_user;

    #[test]
    fn statistics_are_due_when_the_users_doubled_or_halved() {
        assert!(!due(None, FIRST_AT_USERS - 1));
        assert!(due(None, FIRST_AT_USERS));
        assert!(!due(Some(10_000), 20_000));
        assert!(due(Some(10_000), 20_001));
        assert!(!due(Some(10_000), 5_000));
        assert!(due(Some(10_000), 4_999));
        // A tenant emptied below the first mark keeps what was taken.
        assert!(!due(Some(10_000), 10));
    }

    #[tokio::test]
    async fn a_rare_prefix_is_searched_in_its_index_once_the_users_are_many() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("stats.db").display());
        // One reading connection, so the plan below is asked of the connection
        // that planned before the statistics were taken.
        let options = StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        };
        let store = Store::connect(&url, &options).await.unwrap();
        store.migrate().await.unwrap();
        let tenant = crate::store::tenants::test_tenant(&store).await;
        let search = || {
            super::super::query::user_query(
                tenant,
                &Filter::name_or_email_starts_with("u123"),
                None,
                None,
            )
        };
        assert!(!store.keep_statistics().await.unwrap(), "no users yet");
        let users: Vec<_> = (0..2 * FIRST_AT_USERS as u64)
            .map(|n| (test_user(tenant, UserId::generate(), n), None))
            .collect();
        let mut tx = store.begin().await.unwrap();
        tx.insert_users(&users, true).await.unwrap();
        tx.commit().await.unwrap();
        // Without statistics, SQLite counts the matches by walking the tenant.
        let before = plan(&store, search()).await;
        assert!(before.contains("PRIMARY KEY (tenant_id=?)"), "{before}");

        assert!(store.keep_statistics().await.unwrap());
        assert!(!store.keep_statistics().await.unwrap(), "taken already");
        // A statement of the reading connection sees the schema changed, then
        // plans with the statistics.
        store.tenant_counts(tenant).await.unwrap();
        let after = plan(&store, search()).await;
        assert!(after.contains("USING INDEX users_email_key"), "{after}");
    }
}
