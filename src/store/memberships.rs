//! Every statement on memberships: the groups of a page of users and the members of
//! a page of groups (each read in one statement), the locks a membership change
//! takes, and the batched changes themselves (multi-row statements, however many
//! memberships change). Every statement starts at an index led by `tenant_id`.

use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{Group, GroupId, TenantId, Timestamp, UserId};

use super::groups::GroupRow;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, read, write};

/// How many ids one statement binds: a page of the largest size (1,000) in one
/// statement, far below either backend's parameter limit.
const IDS_PER_STATEMENT: usize = 1000;

/// How many memberships one multi-row INSERT writes (two parameters each).
const ROWS_PER_INSERT: usize = 500;

/// `sql (id, id, …) suffix` with every id bound.
fn with_ids(mut sql: Sql, ids: impl IntoIterator<Item = Uuid>, suffix: &str) -> Sql {
    sql.push("(");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Uuid(id));
    }
    sql.push(")").push(suffix);
    sql
}

/// The statement reading the groups of `users`: one search of `memberships_by_user`
/// per user joined to the groups' primary key, in user, then group id, order.
fn groups_of_users_query(tenant: TenantId, users: &[UserId]) -> Sql {
    let mut sql = Sql::new(
        "SELECT m.user_id AS member_id, g.tenant_id, g.id, g.name, g.description, \
         g.owner, g.federated_attribute_values, g.external_id, g.version, \
         g.created_at, g.updated_at \
         FROM memberships m \
         JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
         WHERE m.tenant_id = ",
    );
    sql.bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND m.user_id IN ");
    with_ids(
        sql,
        users.iter().map(|u| u.as_uuid()),
        " ORDER BY m.user_id, m.group_id",
    )
}

/// One membership with its group's columns.
#[derive(FromRow)]
struct MemberGroupRow {
    member_id: Uuid,
    #[sqlx(flatten)]
    group: GroupRow,
}

impl TryFrom<MemberGroupRow> for (UserId, Group) {
    type Error = StoreError;

    fn try_from(row: MemberGroupRow) -> Result<Self, StoreError> {
        Ok((
            UserId::from_uuid(row.member_id),
            Group::try_from(row.group)?,
        ))
    }
}

impl Store {
    /// The groups of `users` (a page of a user list), as (user, group) pairs in user,
    /// then group id, order: one statement for a page of up to 1,000 users, whatever
    /// order the page is in.
    pub async fn groups_of_users(
        &self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, Group)>> {
        let mut found = Vec::new();
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let Sql { text, values } = groups_of_users_query(tenant, chunk);
            let rows: Vec<MemberGroupRow> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            for row in rows {
                found.push(<(UserId, Group)>::try_from(row)?);
            }
        }
        Ok(found)
    }

    /// The (group, member id) memberships of `groups`, through the primary key, in
    /// one statement per page of groups.
    pub async fn member_ids_of_groups(
        &self,
        tenant: TenantId,
        groups: &[GroupId],
    ) -> StoreResult<Vec<(GroupId, UserId)>> {
        let mut found = Vec::new();
        for chunk in groups.chunks(IDS_PER_STATEMENT) {
            let mut sql =
                Sql::new("SELECT m.group_id, m.user_id FROM memberships m WHERE m.tenant_id = ");
            sql.bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND m.group_id IN ");
            let Sql { text, values } = with_ids(
                sql,
                chunk.iter().map(|g| g.as_uuid()),
                " ORDER BY m.group_id, m.user_id",
            );
            let rows: Vec<(Uuid, Uuid)> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            found.extend(
                rows.into_iter()
                    .map(|(group, user)| (GroupId::from_uuid(group), UserId::from_uuid(user))),
            );
        }
        Ok(found)
    }
}

impl Tx {
    /// The ids of the groups the user belongs to, in id order.
    pub async fn group_ids_of_user(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> StoreResult<Vec<GroupId>> {
        let ids: Vec<Uuid> = write!(self, |conn| {
            sqlx::query_scalar(
                "SELECT group_id FROM memberships WHERE tenant_id = $1 AND user_id = $2 \
                 ORDER BY group_id",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .fetch_all(conn)
            .await?
        });
        Ok(ids.into_iter().map(GroupId::from_uuid).collect())
    }

    /// The ids of the group's members, in id order.
    pub async fn member_ids(
        &mut self,
        tenant: TenantId,
        group: GroupId,
    ) -> StoreResult<Vec<UserId>> {
        let rows: Vec<Uuid> = write!(self, |conn| {
            sqlx::query_scalar(
                "SELECT user_id FROM memberships WHERE tenant_id = $1 AND group_id = $2 \
                 ORDER BY user_id",
            )
            .bind(tenant.as_uuid())
            .bind(group.as_uuid())
            .fetch_all(conn)
            .await?
        });
        Ok(rows.into_iter().map(UserId::from_uuid).collect())
    }

    /// Which of `users` exist in the tenant.
    pub async fn existing_user_ids(
        &mut self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        let mut found = Vec::new();
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let mut sql = Sql::new("SELECT id FROM users WHERE tenant_id = ");
            sql.bind(Value::Uuid(tenant.as_uuid())).push(" AND id IN ");
            let Sql { text, values } = with_ids(sql, chunk.iter().map(|u| u.as_uuid()), "");
            let rows: Vec<Uuid> = write!(self, |conn| {
                bind_values!(sqlx::query_scalar(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            found.extend(rows.into_iter().map(UserId::from_uuid));
        }
        Ok(found)
    }

    /// Which of `ids` name groups of the tenant, each locked against other writers
    /// until the transaction ends: one primary-key lookup per id, in one statement.
    ///
    /// Every change of memberships locks the groups it touches before anything else,
    /// and always in id order (the sort runs below the lock), so two changes that
    /// start from different faces queue behind each other instead of deadlocking.
    pub async fn lock_groups(
        &mut self,
        tenant: TenantId,
        ids: &[GroupId],
    ) -> StoreResult<Vec<GroupId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT g.id FROM groups g WHERE g.tenant_id = ");
        sql.bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND g.id IN ");
        let suffix = format!(" ORDER BY g.id{}", self.row_lock("g"));
        let Sql { text, values } = with_ids(sql, ids.iter().map(|g| g.as_uuid()), &suffix);
        let found: Vec<Uuid> = write!(self, |conn| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_all(conn)
                .await?
        });
        Ok(found.into_iter().map(GroupId::from_uuid).collect())
    }

    /// Adds the (group, user) memberships, in multi-row statements; those that exist
    /// already stay as they are. Answers how many were added. A missing user or group
    /// is [`StoreError::MissingReference`].
    pub async fn add_memberships(
        &mut self,
        tenant: TenantId,
        memberships: &[(GroupId, UserId)],
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut added = 0;
        for chunk in memberships.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO memberships (tenant_id, group_id, user_id, is_default, created_at) \
                 VALUES ",
            );
            // $1 is the tenant and $2 the time, shared by every row.
            sql.values.push(Value::Uuid(tenant.as_uuid()));
            sql.values.push(Value::Time(now));
            for (i, (group, user)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("($1, ")
                    .bind(Value::Uuid(group.as_uuid()))
                    .push(", ")
                    .bind(Value::Uuid(user.as_uuid()))
                    .push(", FALSE, $2)");
            }
            sql.push(" ON CONFLICT (tenant_id, group_id, user_id) DO NOTHING");
            let Sql { text, values } = sql;
            added += write!(self, |conn| {
                bind_values!(sqlx::query(&text), values)
                    .execute(conn)
                    .await?
                    .rows_affected()
            });
        }
        Ok(added)
    }

    /// Ends the (group, user) memberships (and with them a default-group mark), in
    /// one statement per group, or one in all when they are one user's; answers how
    /// many there were.
    pub async fn remove_memberships(
        &mut self,
        tenant: TenantId,
        memberships: &[(GroupId, UserId)],
    ) -> StoreResult<u64> {
        let Some((_, first_user)) = memberships.first() else {
            return Ok(0);
        };
        // (fixed column, its value, the other column, its values)
        let mut statements: Vec<(&str, Uuid, &str, Vec<Uuid>)> = Vec::new();
        if memberships.iter().all(|(_, user)| user == first_user) {
            let groups = memberships.iter().map(|(g, _)| g.as_uuid()).collect();
            statements.push(("user_id", first_user.as_uuid(), "group_id", groups));
        } else {
            let mut by_group: std::collections::BTreeMap<Uuid, Vec<Uuid>> = Default::default();
            for (group, user) in memberships {
                by_group
                    .entry(group.as_uuid())
                    .or_default()
                    .push(user.as_uuid());
            }
            statements.extend(
                by_group
                    .into_iter()
                    .map(|(group, users)| ("group_id", group, "user_id", users)),
            );
        }
        let mut removed = 0;
        for (fixed, value, other, ids) in statements {
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                let mut sql = Sql::new("DELETE FROM memberships WHERE tenant_id = ");
                sql.bind(Value::Uuid(tenant.as_uuid()))
                    .push(" AND ")
                    .push(fixed)
                    .push(" = ")
                    .bind(Value::Uuid(value))
                    .push(" AND ")
                    .push(other)
                    .push(" IN ");
                let Sql { text, values } = with_ids(sql, chunk.iter().copied(), "");
                removed += write!(self, |conn| {
                    bind_values!(sqlx::query(&text), values)
                        .execute(conn)
                        .await?
                        .rows_affected()
                });
            }
        }
        Ok(removed)
    }

    /// Makes `group` the user's default group (adding the membership when missing),
    /// or clears it.
    pub async fn set_default_group(
        &mut self,
        tenant: TenantId,
        user: UserId,
        group: Option<GroupId>,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE memberships SET is_default = FALSE \
                 WHERE tenant_id = $1 AND user_id = $2 AND is_default",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *conn)
            .await?;
            if let Some(group) = group {
                sqlx::query(
                    "INSERT INTO memberships (tenant_id, group_id, user_id, is_default, created_at) \
                     VALUES ($1, $2, $3, TRUE, $4) \
                     ON CONFLICT (tenant_id, group_id, user_id) DO UPDATE SET is_default = TRUE",
                )
                .bind(tenant.as_uuid())
                .bind(group.as_uuid())
                .bind(user.as_uuid())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::plan;

    #[tokio::test]
    async fn a_pages_groups_are_one_statement_of_index_searches() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let users: Vec<UserId> = (0..3).map(|_| UserId::generate()).collect();
        let plan = plan(&store, groups_of_users_query(TenantId::generate(), &users)).await;
        assert!(plan.lines().all(|step| !step.contains("SCAN")), "{plan}");
        assert!(plan.contains("memberships_by_user"), "{plan}");
    }
}
