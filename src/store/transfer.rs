//! What imports and exports read and write in bulk: the users an import's batch
//! might match, the new users of a batch in multi-row statements, the groups it
//! names, and the password hashes an export may carry.

use uuid::Uuid;

use crate::domain::{Group, TenantId, User, UserId};

use super::counts::CountChange;
use super::groups::{GroupRow, SELECT_GROUPS, into_groups};
use super::sql::{Sql, Value, bind_values};
use super::users::{SELECT_USERS, USER_COLUMNS, UserRow, insert_statement};
use super::{Backend, Store, StoreResult, Tx, TxInner, Unique, on_unique, read, write};

/// The keys under which a stored user is unique or matched.
#[derive(Debug, Clone)]
pub struct UserKeys {
    pub id: UserId,
    pub email_key: String,
    pub user_name_key: String,
    pub external_id: Option<String>,
}

/// What [`Tx::users_holding`] reads of the users a batch's keys name.
const USERS: (&str, &str, &str) = (
    "SELECT id, email_key, user_name_key, external_id FROM users",
    "users",
    "users",
);

/// The most keys of one kind a lookup binds: far below either backend's limit.
const KEYS_PER_LOOKUP: usize = 1000;

/// `SELECT … WHERE tenant_id = $1 AND id IN (SELECT id … AND column IN (…))`: the
/// rows holding one of `keys` in `column`. The inner search reads the column's index
/// alone; asked for more columns than that index holds, the planner would rather
/// walk the whole tenant by its primary key than look a thousand keys up (SQLite,
/// without statistics, takes a tenant for ten rows). `select` reads `table` under
/// the name `alias`.
fn lookup(
    (select, table, alias): (&str, &str, &str),
    tenant: TenantId,
    column: &str,
    keys: &[String],
) -> Sql {
    let mut sql = Sql::new(select);
    sql.push(&format!(" WHERE {alias}.tenant_id = "))
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(&format!(
            " AND {alias}.id IN (SELECT id FROM {table} WHERE tenant_id = "
        ))
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND ")
        .push(column)
        .push(" IN (");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Text(key.clone()));
    }
    sql.push("))");
    sql
}

/// SQLite's page cache of the writer during an import, in KiB (as `cache_size`
/// takes it, negated): room for the index pages a batch touches, which at 2 MiB
/// spill to the WAL and are read back within the same transaction.
const BULK_CACHE_KIB: i64 = 16 * 1024;
/// SQLite's page cache otherwise: its default.
const CACHE_KIB: i64 = 2000;
/// WAL pages between automatic checkpoints during an import (80 MiB of 4 KiB
/// pages): a page that many batches write reaches the database file once, not
/// once per batch.
const BULK_CHECKPOINT_PAGES: i64 = 20_000;
/// WAL pages between automatic checkpoints otherwise: SQLite's default.
const CHECKPOINT_PAGES: i64 = 1000;

impl Tx {
    /// Readies the connection for a run of large transactions (an import's
    /// batches); [`Store::end_bulk_writes`] undoes it. PostgreSQL needs nothing.
    pub async fn begin_bulk_writes(&mut self) -> StoreResult<()> {
        if let TxInner::Sqlite(tx, _) = &mut self.inner {
            for pragma in [
                format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"),
                format!("PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}"),
            ] {
                let conn: &mut sqlx::SqliteConnection = &mut *tx;
                sqlx::query(&pragma).execute(conn).await?;
            }
        }
        Ok(())
    }

    /// Marks a point the transaction can go back to without ending
    /// ([`Tx::rollback_to_savepoint`]); savepoints nest.
    pub async fn savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
        self.savepoints.push((name, self.changes.len()));
        Ok(())
    }

    /// Undoes what the transaction did since the savepoint, which stays.
    pub async fn rollback_to_savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("ROLLBACK TO SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
        // The savepoint stays; those made after it are gone, with their changes.
        if let Some(at) = self.savepoints.iter().rposition(|(n, _)| *n == name) {
            self.changes.truncate(self.savepoints[at].1);
            self.savepoints.truncate(at + 1);
        }
        Ok(())
    }

    /// Keeps what the transaction did since the savepoint, and forgets the savepoint.
    pub async fn release_savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("RELEASE SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
        if let Some(at) = self.savepoints.iter().rposition(|(n, _)| *n == name) {
            self.savepoints.truncate(at);
        }
        Ok(())
    }

    /// The users of the tenant holding any of `keys` as their folded email or
    /// userName, or any of `external_ids`: each at most once.
    pub async fn users_holding(
        &mut self,
        tenant: TenantId,
        keys: &[String],
        external_ids: &[String],
    ) -> StoreResult<Vec<UserKeys>> {
        let mut found: Vec<UserKeys> = Vec::new();
        let lookups = (keys.chunks(KEYS_PER_LOOKUP))
            .flat_map(|chunk| {
                [
                    lookup(USERS, tenant, "email_key", chunk),
                    lookup(USERS, tenant, "user_name_key", chunk),
                ]
            })
            .chain(
                external_ids
                    .chunks(KEYS_PER_LOOKUP)
                    .map(|chunk| lookup(USERS, tenant, "external_id", chunk)),
            );
        for sql in lookups {
            let text = self.bound_text(&sql);
            let values = sql.values;
            let rows: Vec<(Uuid, String, String, Option<String>)> = write!(self, |conn| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            for (id, email_key, user_name_key, external_id) in rows {
                let id = UserId::from_uuid(id);
                if !found.iter().any(|f| f.id == id) {
                    found.push(UserKeys {
                        id,
                        email_key,
                        user_name_key,
                        external_id,
                    });
                }
            }
        }
        Ok(found)
    }

    /// The users of the tenant among `ids`, each locked against other writers until
    /// the transaction ends (in id order, as every lock of several users is taken).
    pub async fn lock_users(&mut self, tenant: TenantId, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let mut ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        ids.sort();
        let mut users = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(KEYS_PER_LOOKUP) {
            let mut sql = Sql::new(SELECT_USERS);
            sql.push(" WHERE u.tenant_id = ")
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND u.id IN ")
                .push_ids(chunk.iter().copied())
                .push(" ORDER BY u.id")
                .push(&self.row_lock("u"));
            let text = self.bound_text(&sql);
            let values = sql.values;
            let rows: Vec<UserRow> = write!(self, |conn| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            let found = rows
                .into_iter()
                .map(User::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            users.extend(self.with_values(found).await?);
        }
        Ok(users)
    }

    /// Inserts new users with their password hashes and multi-valued attributes in
    /// multi-row statements (their declared attributes' values are the caller's). A
    /// taken email or userName is [`Unique::UserEmail`]. `bulk`: whether this
    /// transaction is an import's, which may take longer than other writes (see
    /// [`super::positions`]).
    pub async fn insert_users(
        &mut self,
        users: &[(User, Option<String>)],
        bulk: bool,
    ) -> StoreResult<()> {
        let per_statement = self.rows_per_statement(USER_COLUMNS);
        for chunk in users.chunks(per_statement) {
            let rows: Vec<(&User, Option<&str>)> = chunk
                .iter()
                .map(|(user, hash)| (user, hash.as_deref()))
                .collect();
            self.execute_bound(insert_statement(&rows))
                .await
                .map_err(|e| on_unique(e, Unique::UserEmail))?;
        }
        if let Some((first, _)) = users.first() {
            let change = CountChange {
                users: users.len() as i64,
                groups: 0,
                bulk,
            };
            self.change_counts(first.tenant_id, change, first.id.as_uuid())
                .await?;
        }
        let all: Vec<&User> = users.iter().map(|(user, _)| user).collect();
        self.insert_values(&all).await
    }

    /// The groups of the tenant whose folded names are among `name_keys`.
    pub async fn groups_named(
        &mut self,
        tenant: TenantId,
        name_keys: &[String],
    ) -> StoreResult<Vec<Group>> {
        let mut groups = Vec::new();
        for chunk in name_keys.chunks(KEYS_PER_LOOKUP) {
            let sql = lookup((SELECT_GROUPS, "groups", "g"), tenant, "name_key", chunk);
            let text = self.bound_text(&sql);
            let values = sql.values;
            let rows: Vec<GroupRow> = write!(self, |conn| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            groups.extend(into_groups(rows)?);
        }
        Ok(groups)
    }
}

impl Store {
    /// Gives the writer back its usual page cache and checkpoints after a run of
    /// [`Tx::begin_bulk_writes`]; the WAL the run left is checkpointed as the next
    /// commit would.
    pub async fn end_bulk_writes(&self) -> StoreResult<()> {
        if let Backend::Sqlite { writer, .. } = &self.backend {
            let mut conn = writer.acquire().await?;
            for pragma in [
                format!("PRAGMA cache_size = -{CACHE_KIB}"),
                format!("PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}"),
                "PRAGMA wal_checkpoint(PASSIVE)".to_owned(),
            ] {
                sqlx::query(&pragma).execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// The stored password hashes of `users` (those that have one).
    pub async fn password_hashes(
        &self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, String)>> {
        let mut hashes = Vec::new();
        for chunk in users.chunks(KEYS_PER_LOOKUP) {
            let mut sql = Sql::new("SELECT id, password_hash FROM users WHERE tenant_id = ");
            sql.bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND password_hash IS NOT NULL AND id IN ")
                .push_ids(chunk.iter().map(|u| u.as_uuid()));
            let Sql { text, values } = sql;
            let rows: Vec<(Uuid, String)> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            hashes.extend(rows.into_iter().map(|(id, h)| (UserId::from_uuid(id), h)));
        }
        Ok(hashes)
    }
}

impl Tx {
    /// The direct (group, user) memberships of `users`.
    pub async fn memberships_of_users(
        &mut self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<(crate::domain::GroupId, UserId)>> {
        let mut pairs = Vec::new();
        for chunk in users.chunks(KEYS_PER_LOOKUP) {
            let mut sql = Sql::new("SELECT group_id, user_id FROM memberships WHERE tenant_id = ");
            sql.bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND user_id IN ")
                .push_ids(chunk.iter().map(|u| u.as_uuid()));
            let Sql { text, values } = sql;
            let rows: Vec<(Uuid, Uuid)> = write!(self, |conn| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            pairs.extend(
                rows.into_iter()
                    .map(|(g, u)| (crate::domain::GroupId::from_uuid(g), UserId::from_uuid(u))),
            );
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_thousand_keys_are_looked_up_in_their_index_not_over_the_tenant() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let keys: Vec<String> = (0..KEYS_PER_LOOKUP).map(|i| format!("u{i}@x")).collect();
        let tenant = TenantId::generate();
        for column in ["email_key", "user_name_key", "external_id"] {
            let plan = super::super::sql::plan(&store, lookup(USERS, tenant, column, &keys)).await;
            assert!(
                plan.lines()
                    .any(|step| step.contains("(tenant_id=? AND id=?)")),
                "{plan}"
            );
            assert!(
                plan.lines()
                    .any(|step| step.contains(&format!("{column}=?"))),
                "{plan}"
            );
        }
        let groups = (SELECT_GROUPS, "groups", "g");
        let plan = super::super::sql::plan(&store, lookup(groups, tenant, "name_key", &keys)).await;
        assert!(
            plan.lines().any(|step| step.contains("name_key=?")),
            "{plan}"
        );
    }
}
