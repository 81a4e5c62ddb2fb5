use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{
    Group, GroupId, GroupsRelated, Membership, PageRequest, TenantId, Timestamp, fold_case,
};

use super::codec::parse_enum;
use super::counts::CountChange;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, Unique, on_unique, read, write};

pub(super) const SELECT_GROUPS: &str = "SELECT g.tenant_id, g.id, g.name, g.description, g.owner, \
    g.federated_attribute_values, g.external_id, g.version, g.created_at, g.updated_at \
    FROM groups g";

#[derive(FromRow)]
pub(super) struct GroupRow {
    tenant_id: Uuid,
    id: Uuid,
    name: String,
    description: String,
    owner: String,
    federated_attribute_values: Json<Vec<String>>,
    external_id: Option<String>,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;

    fn try_from(row: GroupRow) -> Result<Self, StoreError> {
        Ok(Group {
            id: GroupId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            name: row.name,
            description: row.description,
            owner: parse_enum("groups.owner", &row.owner)?,
            federated_attribute_values: row.federated_attribute_values.0,
            external_id: row.external_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(super) fn into_groups(rows: Vec<GroupRow>) -> StoreResult<Vec<Group>> {
    rows.into_iter().map(Group::try_from).collect()
}

impl Store {
    pub async fn get_group(&self, tenant: TenantId, id: GroupId) -> StoreResult<Option<Group>> {
        let sql = format!("{SELECT_GROUPS} WHERE g.tenant_id = $1 AND g.id = $2");
        let row: Option<GroupRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.map(Group::try_from).transpose()
    }

    /// The groups of these ids that exist, by primary key, 1,000 to a statement.
    pub async fn groups_by_ids(
        &self,
        tenant: TenantId,
        ids: &[GroupId],
    ) -> StoreResult<Vec<Group>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(1000) {
            let mut sql = Sql::new(SELECT_GROUPS);
            sql.push(" WHERE g.tenant_id = ")
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND g.id IN ")
                .push_ids(chunk.iter().map(|g| g.as_uuid()));
            let Sql { text, values } = sql;
            let rows: Vec<GroupRow> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            found.extend(into_groups(rows)?);
        }
        Ok(found)
    }

    /// Up to `page.limit + 1` groups in id order after the cursor; only those
    /// `related` to a user or group when it is given.
    pub async fn list_groups(
        &self,
        tenant: TenantId,
        related: Option<GroupsRelated>,
        page: PageRequest,
    ) -> StoreResult<Vec<Group>> {
        // The page is found in the relation table's key (tenant, the related id,
        // the group's id), and only its groups are read, by primary key.
        let mut sql = Sql::new(SELECT_GROUPS);
        sql.push(" WHERE g.tenant_id = ")
            .bind(Value::Uuid(tenant.as_uuid()));
        if let Some(related) = related {
            use GroupsRelated::{Containing, OfUser, Within};
            use Membership::{Direct, Effective};
            let (table, fixed, key, other) = match related {
                OfUser(user, Direct) => ("memberships", "user_id", "group_id", user.as_uuid()),
                OfUser(user, Effective) => (
                    "effective_memberships",
                    "user_id",
                    "group_id",
                    user.as_uuid(),
                ),
                Within(group, Direct) => {
                    ("group_members", "group_id", "member_id", group.as_uuid())
                }
                Within(group, Effective) => (
                    "group_closure",
                    "ancestor_id",
                    "descendant_id",
                    group.as_uuid(),
                ),
                Containing(group, Direct) => {
                    ("group_members", "member_id", "group_id", group.as_uuid())
                }
                Containing(group, Effective) => (
                    "group_closure",
                    "descendant_id",
                    "ancestor_id",
                    group.as_uuid(),
                ),
            };
            sql.push(&format!(
                " AND g.id IN (SELECT r.{key} FROM {table} r WHERE r.tenant_id = "
            ))
            .bind(Value::Uuid(tenant.as_uuid()))
            .push(&format!(" AND r.{fixed} = "))
            .bind(Value::Uuid(other));
            if table == "group_closure" {
                // The closure holds each group as its own ancestor: not listed.
                sql.push(&format!(" AND r.{key} <> r.{fixed}"));
            }
            if let Some(after) = page.after {
                sql.push(&format!(" AND r.{key} > "))
                    .bind(Value::Uuid(after.last_id()));
            }
            sql.push(&format!(" ORDER BY r.{key} LIMIT "))
                .bind(Value::Int(i64::from(page.limit.get()) + 1))
                .push(")");
        } else if let Some(after) = page.after {
            sql.push(" AND g.id > ").bind(Value::Uuid(after.last_id()));
        }
        sql.push(" ORDER BY g.id LIMIT ")
            .bind(Value::Int(i64::from(page.limit.get()) + 1));
        let Sql { text, values } = sql;
        let rows: Vec<GroupRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        into_groups(rows)
    }
}

impl Tx {
    /// Reads the group and locks it against other writers until the transaction ends.
    pub async fn lock_group(
        &mut self,
        tenant: TenantId,
        id: GroupId,
    ) -> StoreResult<Option<Group>> {
        let sql = format!(
            "{SELECT_GROUPS} WHERE g.tenant_id = $1 AND g.id = $2{}",
            self.row_lock("g")
        );
        let row: Option<GroupRow> = write!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(conn)
                .await?
        });
        row.map(Group::try_from).transpose()
    }

    /// Inserts a new group; a taken name is [`Unique::GroupName`].
    pub async fn insert_group(&mut self, group: &Group) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO groups (tenant_id, id, name, name_key, description, owner, \
                 federated_attribute_values, external_id, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(group.tenant_id.as_uuid())
            .bind(group.id.as_uuid())
            .bind(&group.name)
            .bind(fold_case(&group.name))
            .bind(&group.description)
            .bind(group.owner.as_str())
            .bind(Json(&group.federated_attribute_values))
            .bind(&group.external_id)
            .bind(group.version)
            .bind(group.created_at)
            .bind(group.updated_at)
            .execute(conn)
            .await
            .map_err(|e| on_unique(e, Unique::GroupName))?;
        });
        let one = CountChange {
            groups: 1,
            ..Default::default()
        };
        self.change_counts(group.tenant_id, one, group.id.as_uuid())
            .await?;
        self.insert_closure_of(group.tenant_id, group.id).await
    }

    /// Writes the group's fields if its stored version is still `expected`.
    pub async fn update_group(&mut self, group: &Group, expected: i64) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query(
                "UPDATE groups SET name = $3, name_key = $4, description = $5, \
                 federated_attribute_values = $6, external_id = $7, version = $8, \
                 updated_at = $9 WHERE tenant_id = $1 AND id = $2 AND version = $10",
            )
            .bind(group.tenant_id.as_uuid())
            .bind(group.id.as_uuid())
            .bind(&group.name)
            .bind(fold_case(&group.name))
            .bind(&group.description)
            .bind(Json(&group.federated_attribute_values))
            .bind(&group.external_id)
            .bind(group.version)
            .bind(group.updated_at)
            .bind(expected)
            .execute(conn)
            .await
            .map_err(|e| on_unique(e, Unique::GroupName))?
            .rows_affected()
        });
        Ok(result == 1)
    }

    /// Moves the versions of `groups` (whose members changed without a write of
    /// their own).
    pub async fn bump_group_versions(
        &mut self,
        tenant: TenantId,
        groups: &[GroupId],
        now: Timestamp,
    ) -> StoreResult<()> {
        if groups.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new("UPDATE groups SET version = version + 1, updated_at = ");
        sql.bind(Value::Time(now))
            .push(" WHERE tenant_id = ")
            .bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND id IN ")
            .push_ids(groups.iter().map(|g| g.as_uuid()));
        self.run(sql).await?;
        Ok(())
    }

    /// Deletes the group, its memberships and what they derive, if its version is
    /// still `expected`. The caller has taken it out of the hierarchy first.
    pub async fn delete_group(
        &mut self,
        tenant: TenantId,
        id: GroupId,
        expected: i64,
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2 AND version = $3")
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(expected)
                .execute(conn)
                .await?
                .rows_affected()
        });
        if result == 1 {
            let gone = CountChange {
                groups: -1,
                ..Default::default()
            };
            self.change_counts(tenant, gone, id.as_uuid()).await?;
            self.delete_derived_of_group(tenant, id).await?;
        }
        Ok(result == 1)
    }
}
