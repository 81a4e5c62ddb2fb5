//! Memberships read together with the groups they name, and the membership changes
//! that replace a user's groups as a whole: what the account views (Dynatrace's
//! users-with-groups) need. Every statement starts at an index led by `tenant_id`.

use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{Group, GroupId, TenantId, UserId};

use super::groups::GroupRow;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, read, write};

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
    /// The groups of the users whose ids lie in `[first, last]`, as (user, group) pairs
    /// in user, then group, order: one range scan of `memberships_by_user` joined to
    /// the groups' primary key, however many users the range holds.
    pub async fn groups_of_user_range(
        &self,
        tenant: TenantId,
        first: UserId,
        last: UserId,
    ) -> StoreResult<Vec<(UserId, Group)>> {
        let rows: Vec<MemberGroupRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT m.user_id AS member_id, g.tenant_id, g.id, g.name, g.description, \
                 g.owner, g.federated_attribute_values, g.external_id, g.version, \
                 g.created_at, g.updated_at \
                 FROM memberships m \
                 JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
                 WHERE m.tenant_id = $1 AND m.user_id >= $2 AND m.user_id <= $3 \
                 ORDER BY m.user_id, m.group_id",
            )
            .bind(tenant.as_uuid())
            .bind(first.as_uuid())
            .bind(last.as_uuid())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(<(UserId, Group)>::try_from).collect()
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
            .push(" AND g.id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Value::Uuid(id.as_uuid()));
        }
        sql.push(") ORDER BY g.id");
        sql.push(&self.row_lock("g"));
        let Sql { text, values } = sql;
        let found: Vec<Uuid> = write!(self, |conn| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_all(conn)
                .await?
        });
        Ok(found.into_iter().map(GroupId::from_uuid).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for a statement, one step per line.
    async fn plan(store: &Store, text: &str, binds: &[Uuid]) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {text}");
        let rows: Vec<(i64, i64, i64, String)> = read!(store, |pool| {
            let mut query = sqlx::query_as(&explain);
            for b in binds {
                query = query.bind(*b);
            }
            query.fetch_all(pool).await.unwrap()
        });
        rows.into_iter()
            .map(|row| row.3)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn a_pages_groups_are_one_index_range_search() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let plan = plan(
            &store,
            "SELECT m.user_id, g.name FROM memberships m \
             JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
             WHERE m.tenant_id = $1 AND m.user_id >= $2 AND m.user_id <= $3 \
             ORDER BY m.user_id, m.group_id",
            &ids,
        )
        .await;
        assert!(
            plan.lines()
                .all(|step| !step.contains("SCAN") && !step.contains("TEMP B-TREE")),
            "{plan}"
        );
        assert!(plan.contains("memberships_by_user"), "{plan}");
    }
}
