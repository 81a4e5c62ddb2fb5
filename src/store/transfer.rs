//! What imports and exports read and write in bulk: the users an import's batch
//! might match, the new users of a batch in multi-row statements, the groups it
//! names, and the password hashes an export may carry.

use uuid::Uuid;

use crate::domain::{Group, TenantId, User, UserId};

use super::groups::{GroupRow, SELECT_GROUPS, into_groups};
use super::sql::{Sql, Value, bind_values};
use super::users::{USER_COLUMNS, insert_statement};
use super::{Store, StoreResult, Tx, Unique, on_unique, read, write};

/// The keys under which a stored user is unique or matched.
#[derive(Debug, Clone)]
pub struct UserKeys {
    pub id: UserId,
    pub email_key: String,
    pub user_name_key: String,
    pub external_id: Option<String>,
}

/// The most keys of one kind a lookup binds: far below either backend's limit.
const KEYS_PER_LOOKUP: usize = 1000;

/// `SELECT … WHERE tenant_id = $1 AND column IN (…)`.
fn lookup(select: &str, tenant: TenantId, column: &str, keys: &[String]) -> Sql {
    let mut sql = Sql::new(select);
    sql.push(" WHERE tenant_id = ")
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
    sql.push(")");
    sql
}

impl Tx {
    /// Marks a point the transaction can go back to without ending
    /// ([`Tx::rollback_to_savepoint`]); savepoints nest.
    pub async fn savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
        Ok(())
    }

    /// Undoes what the transaction did since the savepoint, which stays.
    pub async fn rollback_to_savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("ROLLBACK TO SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
        Ok(())
    }

    /// Keeps what the transaction did since the savepoint, and forgets the savepoint.
    pub async fn release_savepoint(&mut self, name: &'static str) -> StoreResult<()> {
        let sql = format!("RELEASE SAVEPOINT {name}");
        write!(self, |conn| {
            sqlx::query(&sql).execute(conn).await?;
        });
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
        const SELECT: &str = "SELECT id, email_key, user_name_key, external_id FROM users";
        let mut found: Vec<UserKeys> = Vec::new();
        let per_lookup = self.rows_per_statement(1).min(KEYS_PER_LOOKUP);
        let lookups = (keys.chunks(per_lookup))
            .flat_map(|chunk| {
                [
                    lookup(SELECT, tenant, "email_key", chunk),
                    lookup(SELECT, tenant, "user_name_key", chunk),
                ]
            })
            .chain(
                external_ids
                    .chunks(per_lookup)
                    .map(|chunk| lookup(SELECT, tenant, "external_id", chunk)),
            );
        for Sql { text, values } in lookups {
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

    /// Inserts new users with their password hashes and multi-valued attributes in
    /// multi-row statements (their declared attributes' values are the caller's). A
    /// taken email or userName is [`Unique::UserEmail`].
    pub async fn insert_users(&mut self, users: &[(User, Option<String>)]) -> StoreResult<()> {
        let per_statement = self.rows_per_statement(USER_COLUMNS);
        for chunk in users.chunks(per_statement) {
            let rows: Vec<(&User, Option<&str>)> = chunk
                .iter()
                .map(|(user, hash)| (user, hash.as_deref()))
                .collect();
            let Sql { text, values } = insert_statement(&rows);
            write!(self, |conn| {
                bind_values!(sqlx::query(&text), values)
                    .execute(conn)
                    .await
                    .map_err(|e| on_unique(e, Unique::UserEmail))?;
            });
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
            let mut sql = lookup(SELECT_GROUPS, tenant, "name_key", chunk);
            sql.text = sql
                .text
                .replacen(" WHERE tenant_id", " WHERE g.tenant_id", 1);
            let Sql { text, values } = sql;
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
