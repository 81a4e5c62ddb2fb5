//! Every statement on groups within groups: the direct edges (`group_members`), and
//! the two tables derived from the edges and the memberships, which answer effective
//! membership with one index search each: `group_closure` (every ancestor and
//! descendant pair, each group its own) and `effective_memberships` (every group a
//! user is in at any depth, with `via`, how many of its direct groups lie within).
//!
//! The derived rows change in the transaction that changes what they derive from,
//! in set statements whose count does not grow with the number of rows they write.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::domain::{GroupId, Hierarchy, HierarchyChange, TenantId, Timestamp, UserId};

use super::sql::{Sql, Value, bind_values};
use super::{StoreResult, Tx, write};

/// How many ids one statement binds (far below either backend's parameter limit).
pub(super) const IDS_PER_STATEMENT: usize = 1000;

/// How many rows one multi-row INSERT writes.
const ROWS_PER_INSERT: usize = 500;

/// Which way a count of memberships moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Gain,
    Lose,
}

/// The (group, user, n) relation a change moves the effective memberships by: for
/// each group and user, how many of the user's direct groups come within the group
/// (or go out of it).
enum Counted<'a> {
    /// The users joining or leaving these groups directly (their memberships in the
    /// table while counted): each group above (and including) each of the groups,
    /// once per group.
    Direct {
        groups: &'a [GroupId],
        users: &'a [UserId],
    },
    /// The direct members of the groups `within`, as each of `groups` gains or
    /// loses them.
    Within {
        groups: &'a [GroupId],
        within: &'a [GroupId],
    },
}

/// `SELECT group_id, user_id, n` of a [`Counted`] relation.
fn push_counted(sql: &mut Sql, tenant: TenantId, counted: &Counted<'_>) {
    match counted {
        Counted::Direct { groups, users } => {
            // Read through the memberships' primary key, on the direct memberships
            // themselves (present: just added, or about to be ended).
            sql.push(
                "SELECT c.ancestor_id AS group_id, m.user_id AS user_id, COUNT(*) AS n \
                 FROM memberships m JOIN group_closure c ON c.tenant_id = m.tenant_id \
                 AND c.descendant_id = m.group_id WHERE m.tenant_id = ",
            )
            .bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND m.group_id IN ")
            .push_ids(groups.iter().map(|g| g.as_uuid()))
            .push(" AND m.user_id IN ")
            .push_ids(users.iter().map(|u| u.as_uuid()))
            .push(" GROUP BY c.ancestor_id, m.user_id");
        }
        Counted::Within { groups, within } => {
            sql.push(
                "SELECT a.id AS group_id, m.user_id AS user_id, COUNT(*) AS n \
                 FROM groups a JOIN memberships m ON m.tenant_id = a.tenant_id AND m.group_id IN ",
            )
            .push_ids(within.iter().map(|g| g.as_uuid()))
            .push(" WHERE a.tenant_id = ")
            .bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND a.id IN ")
            .push_ids(groups.iter().map(|g| g.as_uuid()))
            .push(" GROUP BY a.id, m.user_id");
        }
    }
}

/// The groups of a change's reach that gain (or lose) the same descendants, by those
/// descendants: adding a subgroup deep down extends every group above it by the same
/// set, written for all of them at once.
fn by_set(
    reach: &[crate::domain::Reach],
    set: impl Fn(&crate::domain::Reach) -> &Vec<GroupId>,
) -> BTreeMap<&Vec<GroupId>, Vec<GroupId>> {
    let mut found: BTreeMap<&Vec<GroupId>, Vec<GroupId>> = BTreeMap::new();
    for r in reach.iter().filter(|r| !set(r).is_empty()) {
        found.entry(set(r)).or_default().push(r.group);
    }
    found
}

const SELECT_EDGES: &str = "SELECT group_id, member_id FROM group_members WHERE tenant_id = $1";

fn hierarchy_of(rows: Vec<(Uuid, Uuid)>) -> Hierarchy {
    Hierarchy::new(
        rows.into_iter()
            .map(|(group, member)| (GroupId::from_uuid(group), GroupId::from_uuid(member))),
    )
}

impl super::Store {
    /// [`Tx::hierarchy`], read outside a change (an export's).
    pub async fn hierarchy(&self, tenant: TenantId) -> StoreResult<Hierarchy> {
        let rows: Vec<(Uuid, Uuid)> = super::read!(self, |pool| {
            sqlx::query_as(SELECT_EDGES)
                .bind(tenant.as_uuid())
                .fetch_all(pool)
                .await?
        });
        Ok(hierarchy_of(rows))
    }
}

impl Tx {
    /// Takes the tenant's membership lock until the transaction ends: shared by
    /// changes of which users belong to which groups, exclusive for a change of the
    /// hierarchy (which reads and rewrites what the shared holders write through).
    ///
    /// It is taken before any group or user lock. On SQLite, where one transaction
    /// writes at a time, there is nothing to take.
    pub async fn lock_memberships(&mut self, tenant: TenantId, exclusive: bool) -> StoreResult<()> {
        // The tenant's row: FOR NO KEY UPDATE and FOR SHARE exclude each other and
        // themselves (shared holders excepted), and neither blocks the key-share
        // locks that inserting a user or group of the tenant takes.
        let mode = if exclusive {
            "FOR NO KEY UPDATE"
        } else {
            "FOR SHARE"
        };
        if let super::TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query(&format!(
                "SELECT tenant_id FROM tenants WHERE tenant_id = $1 {mode}"
            ))
            .bind(tenant.as_uuid())
            .fetch_optional(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The tenant's hierarchy: every (group, member group) edge.
    pub async fn hierarchy(&mut self, tenant: TenantId) -> StoreResult<Hierarchy> {
        let rows: Vec<(Uuid, Uuid)> = write!(self, |conn| {
            sqlx::query_as(SELECT_EDGES)
                .bind(tenant.as_uuid())
                .fetch_all(conn)
                .await?
        });
        Ok(hierarchy_of(rows))
    }

    /// The group's direct member groups, in id order.
    pub async fn member_group_ids(
        &mut self,
        tenant: TenantId,
        group: GroupId,
    ) -> StoreResult<Vec<GroupId>> {
        let rows: Vec<Uuid> = write!(self, |conn| {
            sqlx::query_scalar(
                "SELECT member_id FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
                 ORDER BY member_id",
            )
            .bind(tenant.as_uuid())
            .bind(group.as_uuid())
            .fetch_all(conn)
            .await?
        });
        Ok(rows.into_iter().map(GroupId::from_uuid).collect())
    }

    /// Which of `ids` name groups of the tenant.
    pub async fn existing_group_ids(
        &mut self,
        tenant: TenantId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<GroupId>> {
        let found = self.existing_ids(tenant, "groups", ids).await?;
        Ok(found.into_iter().map(GroupId::from_uuid).collect())
    }

    /// Which of `ids` are ids of `table`'s rows in the tenant: one primary-key search
    /// each, 1,000 to a statement.
    pub(super) async fn existing_ids(
        &mut self,
        tenant: TenantId,
        table: &str,
        ids: &[Uuid],
    ) -> StoreResult<Vec<Uuid>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = Sql::new(&format!("SELECT id FROM {table} WHERE tenant_id = "));
            sql.bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND id IN ")
                .push_ids(chunk.iter().copied());
            let Sql { text, values } = sql;
            let rows: Vec<Uuid> = write!(self, |conn| {
                bind_values!(sqlx::query_scalar(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Writes a checked change of the hierarchy: its edges, the closure pairs it
    /// adds and removes, and the effective memberships that come with them. The
    /// caller holds the tenant's exclusive membership lock, and has written the
    /// change's memberships of users first. A group deleted meanwhile is
    /// [`StoreError::MissingReference`].
    pub async fn write_hierarchy_change(
        &mut self,
        tenant: TenantId,
        change: &HierarchyChange,
        now: Timestamp,
    ) -> StoreResult<()> {
        for chunk in change.added.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO group_members (tenant_id, group_id, member_id, created_at) VALUES ",
            );
            sql.values.push(Value::Uuid(tenant.as_uuid()));
            sql.values.push(Value::Time(now));
            for (i, (group, member)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "($1, " } else { ", ($1, " })
                    .bind(Value::Uuid(group.as_uuid()))
                    .push(", ")
                    .bind(Value::Uuid(member.as_uuid()))
                    .push(", $2)");
            }
            self.run(sql).await?;
        }
        // One statement per group losing member groups (a deleted group's own
        // members go in one), 1,000 members to a statement.
        let mut removed: BTreeMap<GroupId, Vec<GroupId>> = BTreeMap::new();
        for (group, member) in &change.removed {
            removed.entry(*group).or_default().push(*member);
        }
        for (group, members) in removed {
            for members in members.chunks(IDS_PER_STATEMENT) {
                let mut sql = Sql::new("DELETE FROM group_members WHERE tenant_id = ");
                sql.bind(Value::Uuid(tenant.as_uuid()))
                    .push(" AND group_id = ")
                    .bind(Value::Uuid(group.as_uuid()))
                    .push(" AND member_id IN ")
                    .push_ids(members.iter().map(|m| m.as_uuid()));
                self.run(sql).await?;
            }
        }
        for (gained, groups) in by_set(&change.reach, |r| &r.gained) {
            let pairs: Vec<(GroupId, GroupId)> = (groups.iter())
                .flat_map(|g| gained.iter().map(move |d| (*g, *d)))
                .collect();
            for chunk in pairs.chunks(ROWS_PER_INSERT) {
                let mut sql = Sql::new(
                    "INSERT INTO group_closure (tenant_id, ancestor_id, descendant_id) VALUES ",
                );
                sql.values.push(Value::Uuid(tenant.as_uuid()));
                for (i, (ancestor, descendant)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "($1, " } else { ", ($1, " })
                        .bind(Value::Uuid(ancestor.as_uuid()))
                        .push(", ")
                        .bind(Value::Uuid(descendant.as_uuid()))
                        .push(")");
                }
                self.run(sql).await?;
            }
            self.count_within(tenant, Direction::Gain, &groups, gained)
                .await?;
        }
        for (lost, groups) in by_set(&change.reach, |r| &r.lost) {
            for ancestors in groups.chunks(IDS_PER_STATEMENT) {
                for within in lost.chunks(IDS_PER_STATEMENT) {
                    let mut sql = Sql::new("DELETE FROM group_closure WHERE tenant_id = ");
                    sql.bind(Value::Uuid(tenant.as_uuid()))
                        .push(" AND ancestor_id IN ")
                        .push_ids(ancestors.iter().map(|g| g.as_uuid()))
                        .push(" AND descendant_id IN ")
                        .push_ids(within.iter().map(|g| g.as_uuid()));
                    self.run(sql).await?;
                }
            }
            self.count_within(tenant, Direction::Lose, &groups, lost)
                .await?;
        }
        Ok(())
    }

    /// Moves the effective memberships by `users` joining or leaving `groups`
    /// directly (every pair of the two): one group and many users, or one user and
    /// many groups.
    pub(super) async fn count_direct(
        &mut self,
        tenant: TenantId,
        direction: Direction,
        groups: &[GroupId],
        users: &[UserId],
    ) -> StoreResult<()> {
        for groups in groups.chunks(IDS_PER_STATEMENT) {
            for users in users.chunks(IDS_PER_STATEMENT) {
                self.count(tenant, direction, Counted::Direct { groups, users })
                    .await?;
            }
        }
        Ok(())
    }

    /// Moves the effective memberships of `groups` by the direct members of the
    /// groups `within`, which they all gain or lose.
    async fn count_within(
        &mut self,
        tenant: TenantId,
        direction: Direction,
        groups: &[GroupId],
        within: &[GroupId],
    ) -> StoreResult<()> {
        for groups in groups.chunks(IDS_PER_STATEMENT) {
            for within in within.chunks(IDS_PER_STATEMENT) {
                self.count(tenant, direction, Counted::Within { groups, within })
                    .await?;
            }
        }
        Ok(())
    }

    /// Adds a counted relation to the effective memberships, or takes it away (and
    /// with it each membership that no direct group holds any more). Both are one
    /// upsert driven by the relation through the primary key, whatever the table's
    /// size or statistics; the memberships taken down to no direct group are then
    /// deleted through the partial index that holds only them.
    async fn count(
        &mut self,
        tenant: TenantId,
        direction: Direction,
        counted: Counted<'_>,
    ) -> StoreResult<()> {
        if let Counted::Direct { groups: [], .. }
        | Counted::Direct { users: [], .. }
        | Counted::Within { within: [], .. } = counted
        {
            return Ok(());
        }
        let sign = match direction {
            Direction::Gain => "",
            Direction::Lose => "-",
        };
        let mut sql = Sql::new(
            "INSERT INTO effective_memberships (tenant_id, group_id, user_id, via) SELECT ",
        );
        sql.bind(Value::Uuid(tenant.as_uuid()))
            .push(&format!(", r.group_id, r.user_id, {sign}r.n FROM ("));
        push_counted(&mut sql, tenant, &counted);
        sql.push(
            ") r WHERE TRUE ON CONFLICT (tenant_id, group_id, user_id) \
             DO UPDATE SET via = effective_memberships.via + excluded.via",
        );
        self.run(sql).await?;
        if direction == Direction::Lose {
            // The memberships counted down to no direct group, from the partial
            // index that holds only them.
            write!(self, |conn| {
                sqlx::query("DELETE FROM effective_memberships WHERE tenant_id = $1 AND via <= 0")
                    .bind(tenant.as_uuid())
                    .execute(conn)
                    .await?;
            });
        }
        Ok(())
    }

    /// Adds the closure's own pair of a new group.
    pub(super) async fn insert_closure_of(
        &mut self,
        tenant: TenantId,
        group: GroupId,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO group_closure (tenant_id, ancestor_id, descendant_id) \
                 VALUES ($1, $2, $2)",
            )
            .bind(tenant.as_uuid())
            .bind(group.as_uuid())
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Deletes the derived rows that name a group about to be deleted (whose edges
    /// and memberships its deletion has already taken out of the others').
    pub(super) async fn delete_derived_of_group(
        &mut self,
        tenant: TenantId,
        group: GroupId,
    ) -> StoreResult<()> {
        for statement in [
            "DELETE FROM group_closure WHERE tenant_id = $1 AND ancestor_id = $2",
            "DELETE FROM group_closure WHERE tenant_id = $1 AND descendant_id = $2",
            "DELETE FROM effective_memberships WHERE tenant_id = $1 AND group_id = $2",
        ] {
            write!(self, |conn| {
                sqlx::query(statement)
                    .bind(tenant.as_uuid())
                    .bind(group.as_uuid())
                    .execute(conn)
                    .await?;
            });
        }
        Ok(())
    }

    /// Deletes a deleted user's effective memberships.
    pub(super) async fn delete_derived_of_user(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("DELETE FROM effective_memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Deletes a deleted tenant's derived rows.
    pub(super) async fn delete_derived_of_tenant(&mut self, tenant: TenantId) -> StoreResult<()> {
        for statement in [
            "DELETE FROM group_closure WHERE tenant_id = $1",
            "DELETE FROM effective_memberships WHERE tenant_id = $1",
        ] {
            write!(self, |conn| {
                sqlx::query(statement)
                    .bind(tenant.as_uuid())
                    .execute(conn)
                    .await?;
            });
        }
        Ok(())
    }

    /// Runs a built statement; answers how many rows it changed.
    pub(super) async fn run(&mut self, sql: Sql) -> StoreResult<u64> {
        let Sql { text, values } = sql;
        let changed = write!(self, |conn| {
            bind_values!(sqlx::query(&text), values)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::sql::plan;

    async fn store() -> Store {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    fn counted(counted: Counted<'_>) -> Sql {
        let mut sql = Sql::default();
        push_counted(&mut sql, TenantId::generate(), &counted);
        sql
    }

    #[tokio::test]
    async fn what_a_change_counts_is_read_through_indexes() {
        let store = store().await;
        let (groups, users) = (
            [GroupId::generate()],
            [UserId::generate(), UserId::generate()],
        );
        // The memberships by primary key, and the groups above them from the
        // closure's descendant index.
        let direct = plan(
            &store,
            counted(Counted::Direct {
                groups: &groups,
                users: &users,
            }),
        )
        .await;
        assert!(direct.contains("group_closure_by_descendant"), "{direct}");
        assert!(!direct.contains("SCAN"), "{direct}");
        // The direct members of the groups coming within another, by the
        // memberships' primary key.
        let within = [GroupId::generate(), GroupId::generate()];
        let within = plan(
            &store,
            counted(Counted::Within {
                groups: &[GroupId::generate()],
                within: &within,
            }),
        )
        .await;
        assert!(!within.contains("SCAN m"), "{within}");
    }
}
