//! Every statement on memberships: the groups of a page of users and the members of
//! a page of groups (each read in one statement), the locks a membership change
//! takes, and the batched changes themselves (multi-row statements, however many
//! memberships change). Every statement starts at an index led by `tenant_id`.

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use crate::domain::{Group, GroupId, Member, TenantId, Timestamp, UserId};

use super::hierarchy::{Direction, IDS_PER_STATEMENT};
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreResult, Tx, read, write};

/// How many memberships one multi-row INSERT writes (two parameters each).
const ROWS_PER_INSERT: usize = 500;

/// The statement reading the groups of `users` at any depth, as (user, group,
/// direct) ids: one search of `effective_memberships_by_user` per user, and for each
/// row one probe of the memberships' primary key, in user, then group id, order.
/// The groups themselves are read once each, by key.
fn groups_of_users_query(tenant: TenantId, users: &[UserId]) -> Sql {
    let mut sql = Sql::new(
        "SELECT e.user_id, e.group_id, EXISTS (SELECT 1 FROM memberships m \
         WHERE m.tenant_id = e.tenant_id AND m.group_id = e.group_id \
         AND m.user_id = e.user_id) AS direct \
         FROM effective_memberships e WHERE e.tenant_id = ",
    );
    sql.bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND e.user_id IN ")
        .push_ids(users.iter().map(|u| u.as_uuid()))
        .push(" ORDER BY e.user_id, e.group_id");
    sql
}

/// A group a user is in, and whether the user is a member of it directly (or only
/// through a group within it).
#[derive(Debug, Clone)]
pub struct GroupOfUser {
    pub user: UserId,
    pub group: Group,
    pub direct: bool,
}

/// Splits (group, user) pairs into statements of one user and many groups (when
/// they are all one user's) or of one group and many users.
fn by_one_side(pairs: &[(GroupId, UserId)]) -> Vec<(Vec<GroupId>, Vec<UserId>)> {
    let Some((_, first_user)) = pairs.first() else {
        return Vec::new();
    };
    if pairs.iter().all(|(_, user)| user == first_user) {
        return vec![(pairs.iter().map(|(g, _)| *g).collect(), vec![*first_user])];
    }
    let mut by_group: std::collections::BTreeMap<GroupId, Vec<UserId>> = Default::default();
    for (group, user) in pairs {
        by_group.entry(*group).or_default().push(*user);
    }
    by_group
        .into_iter()
        .map(|(group, users)| (vec![group], users))
        .collect()
}

impl Store {
    /// The groups of `users` (a page of a user list) at any depth, in user, then
    /// group id, order: one statement for a page of up to 1,000 users, whatever order
    /// the page is in.
    pub async fn groups_of_users(
        &self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<GroupOfUser>> {
        let mut memberships: Vec<(Uuid, Uuid, bool)> = Vec::new();
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let Sql { text, values } = groups_of_users_query(tenant, chunk);
            let rows: Vec<(Uuid, Uuid, bool)> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            memberships.extend(rows);
        }
        let ids: BTreeSet<GroupId> = memberships
            .iter()
            .map(|(_, group, _)| GroupId::from_uuid(*group))
            .collect();
        let ids: Vec<GroupId> = ids.into_iter().collect();
        let groups: HashMap<GroupId, Group> = (self.groups_by_ids(tenant, &ids).await?)
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        Ok(memberships
            .into_iter()
            .filter_map(|(user, group, direct)| {
                // A group deleted between the two reads is left out.
                let group = groups.get(&GroupId::from_uuid(group))?.clone();
                Some(GroupOfUser {
                    user: UserId::from_uuid(user),
                    group,
                    direct,
                })
            })
            .collect())
    }

    /// The direct members of `groups`, users and groups, as (group, member) pairs in
    /// group, then member order: two statements per page of groups, each through a
    /// primary key.
    pub async fn members_of_groups(
        &self,
        tenant: TenantId,
        groups: &[GroupId],
    ) -> StoreResult<Vec<(GroupId, Member)>> {
        let mut found = Vec::new();
        for chunk in groups.chunks(IDS_PER_STATEMENT) {
            let users = self
                .pairs_in(tenant, "memberships", "user_id", chunk)
                .await?;
            found.extend(users.map(|(g, u)| (g, Member::User(UserId::from_uuid(u)))));
            let groups = self
                .pairs_in(tenant, "group_members", "member_id", chunk)
                .await?;
            found.extend(groups.map(|(g, m)| (g, Member::Group(GroupId::from_uuid(m)))));
        }
        found.sort();
        Ok(found)
    }

    /// The (group, member) rows of `table` whose group is one of `groups`.
    async fn pairs_in(
        &self,
        tenant: TenantId,
        table: &str,
        member: &str,
        groups: &[GroupId],
    ) -> StoreResult<impl Iterator<Item = (GroupId, Uuid)>> {
        let mut sql = Sql::new(&format!(
            "SELECT m.group_id, m.{member} FROM {table} m WHERE m.tenant_id = "
        ));
        sql.bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND m.group_id IN ")
            .push_ids(groups.iter().map(|g| g.as_uuid()));
        let Sql { text, values } = sql;
        let rows: Vec<(Uuid, Uuid)> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(group, member)| (GroupId::from_uuid(group), member)))
    }
}

impl Tx {
    /// The ids of the groups the user belongs to directly, in id order.
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

    /// The ids of the group's direct members that are users, in id order.
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

    /// Which of `ids` name users of the tenant.
    pub async fn existing_user_ids(
        &mut self,
        tenant: TenantId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<UserId>> {
        let found = self.existing_ids(tenant, "users", ids).await?;
        Ok(found.into_iter().map(UserId::from_uuid).collect())
    }

    /// Which of `ids` name groups of the tenant, each locked against other writers
    /// until the transaction ends: one primary-key lookup per id, in one statement.
    ///
    /// Every change of memberships locks the groups it touches before anything else
    /// but the tenant's membership lock, and always in id order (the sort runs below
    /// the lock), so two changes that start from different faces queue behind each
    /// other instead of deadlocking.
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
            .push(" AND g.id IN ")
            .push_ids(ids.iter().map(|g| g.as_uuid()))
            .push(&format!(" ORDER BY g.id{}", self.row_lock("g")));
        let Sql { text, values } = sql;
        let found: Vec<Uuid> = write!(self, |conn| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_all(conn)
                .await?
        });
        Ok(found.into_iter().map(GroupId::from_uuid).collect())
    }

    /// Adds the (group, user) memberships, in multi-row statements, and the
    /// effective memberships they bring in every group above; those that exist
    /// already stay as they are. The caller holds the tenant's membership lock. A
    /// missing user or group is [`StoreError::MissingReference`].
    pub async fn add_memberships(
        &mut self,
        tenant: TenantId,
        memberships: &[(GroupId, UserId)],
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut added = Vec::new();
        for chunk in memberships.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO memberships (tenant_id, group_id, user_id, is_default, created_at) \
                 VALUES ",
            );
            // $1 is the tenant and $2 the time, shared by every row.
            sql.values.push(Value::Uuid(tenant.as_uuid()));
            sql.values.push(Value::Time(now));
            for (i, (group, user)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "($1, " } else { ", ($1, " })
                    .bind(Value::Uuid(group.as_uuid()))
                    .push(", ")
                    .bind(Value::Uuid(user.as_uuid()))
                    .push(", FALSE, $2)");
            }
            sql.push(
                " ON CONFLICT (tenant_id, group_id, user_id) DO NOTHING \
                 RETURNING group_id, user_id",
            );
            added.extend(self.changed_pairs(sql).await?);
        }
        self.count_pairs(tenant, Direction::Gain, &added).await
    }

    /// Ends the (group, user) memberships (and with them a default-group mark) and
    /// the effective memberships only they held, in one statement per group, or one
    /// in all when they are one user's. The caller holds the tenant's membership lock.
    pub async fn remove_memberships(
        &mut self,
        tenant: TenantId,
        memberships: &[(GroupId, UserId)],
    ) -> StoreResult<()> {
        for (groups, users) in by_one_side(memberships) {
            // Counted while they are still there: only those that are, are ended.
            self.count_direct(tenant, Direction::Lose, &groups, &users)
                .await?;
            let (fixed, value, other, ids): (&str, Uuid, &str, Vec<Uuid>) = match groups[..] {
                [group] => ("group_id", group.as_uuid(), "user_id", {
                    users.iter().map(|u| u.as_uuid()).collect()
                }),
                _ => ("user_id", users[0].as_uuid(), "group_id", {
                    groups.iter().map(|g| g.as_uuid()).collect()
                }),
            };
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                let mut sql = Sql::new("DELETE FROM memberships WHERE tenant_id = ");
                sql.bind(Value::Uuid(tenant.as_uuid()))
                    .push(&format!(" AND {fixed} = "))
                    .bind(Value::Uuid(value))
                    .push(&format!(" AND {other} IN "))
                    .push_ids(chunk.iter().copied());
                self.run(sql).await?;
            }
        }
        Ok(())
    }

    /// The (group, user) pairs a statement `RETURNING group_id, user_id` changed.
    async fn changed_pairs(&mut self, sql: Sql) -> StoreResult<Vec<(GroupId, UserId)>> {
        let Sql { text, values } = sql;
        let rows: Vec<(Uuid, Uuid)> = write!(self, |conn| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(conn)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(group, user)| (GroupId::from_uuid(group), UserId::from_uuid(user)))
            .collect())
    }

    /// Moves the effective memberships by memberships just added or ended.
    async fn count_pairs(
        &mut self,
        tenant: TenantId,
        direction: Direction,
        pairs: &[(GroupId, UserId)],
    ) -> StoreResult<()> {
        for (groups, users) in by_one_side(pairs) {
            self.count_direct(tenant, direction, &groups, &users)
                .await?;
        }
        Ok(())
    }

    /// Makes `group` the user's default group (adding the membership when missing),
    /// or clears it. The caller holds the tenant's membership lock.
    pub async fn set_default_group(
        &mut self,
        tenant: TenantId,
        user: UserId,
        group: Option<GroupId>,
        now: Timestamp,
    ) -> StoreResult<()> {
        if let Some(group) = group {
            self.add_memberships(tenant, &[(group, user)], now).await?;
        }
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
                    "UPDATE memberships SET is_default = TRUE \
                     WHERE tenant_id = $1 AND user_id = $2 AND group_id = $3",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(group.as_uuid())
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
        assert!(plan.contains("effective_memberships_by_user"), "{plan}");
    }
}
