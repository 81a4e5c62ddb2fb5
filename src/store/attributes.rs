//! Tenant-declared user attributes: their definitions, and the values users hold.

use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{
    AttributeDefinition, AttributeType, AttributeValue, TenantId, Timestamp, User, UserId,
};

use super::codec::parse_enum;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, Unique, on_unique, read, write};

const SELECT_ATTRIBUTES: &str = "SELECT tenant_id, name, description, type, multi_valued, \
    required, is_unique, case_exact, mutability, returned, version, created_at, updated_at \
    FROM attribute_definitions";

#[derive(FromRow)]
struct AttributeRow {
    tenant_id: Uuid,
    name: String,
    description: String,
    r#type: String,
    multi_valued: bool,
    required: bool,
    is_unique: bool,
    case_exact: bool,
    mutability: String,
    returned: String,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<AttributeRow> for AttributeDefinition {
    type Error = StoreError;

    fn try_from(row: AttributeRow) -> Result<Self, StoreError> {
        Ok(AttributeDefinition {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            name: row.name,
            description: row.description,
            kind: parse_enum("attribute_definitions.type", &row.r#type)?,
            multi_valued: row.multi_valued,
            required: row.required,
            unique: row.is_unique,
            case_exact: row.case_exact,
            mutability: parse_enum("attribute_definitions.mutability", &row.mutability)?,
            returned: parse_enum("attribute_definitions.returned", &row.returned)?,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// One stored value: its user, its attribute's key and type, and its canonical
/// text.
#[derive(FromRow)]
struct StoredValue {
    user_id: Uuid,
    name_key: String,
    r#type: String,
    value: String,
}

/// The statement reading the declared attributes' values of `users` (of one
/// tenant), in user, attribute and written order; `None` for no users.
fn declared_values_query(users: &[User]) -> Option<Sql> {
    let first = users.first()?;
    let mut sql = Sql::new(
        "SELECT v.user_id, v.name_key, d.type, v.value FROM attribute_values v \
         JOIN attribute_definitions d ON d.tenant_id = v.tenant_id AND d.name_key = v.name_key \
         WHERE v.tenant_id = ",
    );
    sql.bind(Value::Uuid(first.tenant_id.as_uuid()))
        .push(" AND v.user_id IN (");
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Uuid(user.id.as_uuid()));
    }
    sql.push(") ORDER BY v.user_id, v.name_key, v.position");
    Some(sql)
}

/// Gives each user its declared attributes' values.
fn attach_declared(users: &mut [User], rows: Vec<StoredValue>) -> StoreResult<()> {
    for row in rows {
        let id = UserId::from_uuid(row.user_id);
        let Some(user) = users.iter_mut().find(|u| u.id == id) else {
            continue;
        };
        let kind: AttributeType = parse_enum("attribute_definitions.type", &row.r#type)?;
        let value = kind.read_stored(&row.value).map_err(|invalid| {
            StoreError::Corrupt(format!(
                "attribute_values.value of {}: {}",
                row.name_key, invalid.reason
            ))
        })?;
        user.attributes.entry(row.name_key).or_default().push(value);
    }
    Ok(())
}

impl Store {
    /// Gives `users` (of one tenant, at most a few hundred) the values of their
    /// declared attributes, read in one statement.
    pub(super) async fn with_declared_values(&self, users: &mut [User]) -> StoreResult<()> {
        let Some(Sql { text, values }) = declared_values_query(users) else {
            return Ok(());
        };
        let rows: Vec<StoredValue> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        attach_declared(users, rows)
    }
}

impl Tx {
    /// [`Store::with_declared_values`] within the transaction.
    pub(super) async fn with_declared_values(&mut self, users: &mut [User]) -> StoreResult<()> {
        let Some(Sql { text, values }) = declared_values_query(users) else {
            return Ok(());
        };
        let rows: Vec<StoredValue> = write!(self, |conn| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(conn)
                .await?
        });
        attach_declared(users, rows)
    }
}

impl Store {
    /// Every attribute the tenant declared, by name in any letter case.
    pub async fn list_attributes(&self, tenant: TenantId) -> StoreResult<Vec<AttributeDefinition>> {
        let sql = format!("{SELECT_ATTRIBUTES} WHERE tenant_id = $1 ORDER BY name_key");
        let rows: Vec<AttributeRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(AttributeDefinition::try_from)
            .collect()
    }

    /// The attribute whose folded name is `key`.
    pub async fn get_attribute(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> StoreResult<Option<AttributeDefinition>> {
        let sql = format!("{SELECT_ATTRIBUTES} WHERE tenant_id = $1 AND name_key = $2");
        let row: Option<AttributeRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        row.map(AttributeDefinition::try_from).transpose()
    }
}

impl Tx {
    /// Reads the attribute whose folded name is `key` and locks it against other
    /// writers until the transaction ends.
    pub async fn lock_attribute(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> StoreResult<Option<AttributeDefinition>> {
        let sql = format!(
            "{SELECT_ATTRIBUTES} WHERE tenant_id = $1 AND name_key = $2{}",
            self.row_lock("attribute_definitions")
        );
        let row: Option<AttributeRow> = write!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(key)
                .fetch_optional(conn)
                .await?
        });
        row.map(AttributeDefinition::try_from).transpose()
    }

    /// How many attributes the tenant has declared.
    pub async fn count_attributes(&mut self, tenant: TenantId) -> StoreResult<i64> {
        let count = write!(self, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM attribute_definitions WHERE tenant_id = $1")
                .bind(tenant.as_uuid())
                .fetch_one(conn)
                .await?
        });
        Ok(count)
    }

    pub async fn insert_attribute(&mut self, attribute: &AttributeDefinition) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO attribute_definitions (tenant_id, name_key, name, description, \
                 type, multi_valued, required, is_unique, case_exact, mutability, returned, \
                 version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(attribute.tenant_id.as_uuid())
            .bind(attribute.key())
            .bind(&attribute.name)
            .bind(&attribute.description)
            .bind(attribute.kind.as_str())
            .bind(attribute.multi_valued)
            .bind(attribute.required)
            .bind(attribute.unique)
            .bind(attribute.case_exact)
            .bind(attribute.mutability.as_str())
            .bind(attribute.returned.as_str())
            .bind(attribute.version)
            .bind(attribute.created_at)
            .bind(attribute.updated_at)
            .execute(conn)
            .await
            .map_err(|e| on_unique(e, Unique::AttributeName))?;
        });
        Ok(())
    }

    /// Stores the attribute's changeable fields if its version is still `expected`.
    pub async fn update_attribute(
        &mut self,
        attribute: &AttributeDefinition,
        expected: i64,
    ) -> StoreResult<bool> {
        let updated = write!(self, |conn| {
            sqlx::query(
                "UPDATE attribute_definitions SET description = $3, required = $4, \
                 mutability = $5, returned = $6, version = $7, updated_at = $8 \
                 WHERE tenant_id = $1 AND name_key = $2 AND version = $9",
            )
            .bind(attribute.tenant_id.as_uuid())
            .bind(attribute.key())
            .bind(&attribute.description)
            .bind(attribute.required)
            .bind(attribute.mutability.as_str())
            .bind(attribute.returned.as_str())
            .bind(attribute.version)
            .bind(attribute.updated_at)
            .bind(expected)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Deletes the attribute and every value of it, if its version is still
    /// `expected`.
    pub async fn delete_attribute(
        &mut self,
        tenant: TenantId,
        key: &str,
        expected: i64,
    ) -> StoreResult<bool> {
        let deleted = write!(self, |conn| {
            sqlx::query(
                "DELETE FROM attribute_definitions \
                 WHERE tenant_id = $1 AND name_key = $2 AND version = $3",
            )
            .bind(tenant.as_uuid())
            .bind(key)
            .bind(expected)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Makes `values` the user's values of `attribute` (none removes them). A value
    /// another user of the tenant holds for a unique attribute is
    /// [`Unique::AttributeValue`].
    pub async fn replace_attribute_values(
        &mut self,
        tenant: TenantId,
        user: UserId,
        attribute: &AttributeDefinition,
        values: &[AttributeValue],
    ) -> StoreResult<()> {
        let key = attribute.key();
        write!(self, |conn| {
            sqlx::query(
                "DELETE FROM attribute_values \
                 WHERE tenant_id = $1 AND user_id = $2 AND name_key = $3",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        });
        if values.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(
            "INSERT INTO attribute_values (tenant_id, user_id, name_key, position, value, \
             value_key, number, unique_key) VALUES ",
        );
        for (position, value) in values.iter().enumerate() {
            let value_key = attribute.value_key(value);
            sql.push(if position == 0 { "(" } else { ", (" })
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(", ")
                .bind(Value::Uuid(user.as_uuid()))
                .push(", ")
                .bind(Value::Text(key.clone()))
                .push(", ")
                .bind(Value::Int(i64::try_from(position).unwrap_or(i64::MAX)))
                .push(", ")
                .bind(Value::Text(value.canonical()))
                .push(", ")
                .bind(Value::Text(value_key.clone()))
                .push(", ")
                .bind(Value::Float(value.number()))
                .push(", ")
                .bind(Value::OptText(attribute.unique.then_some(value_key)))
                .push(")");
        }
        let Sql { text, values } = sql;
        write!(self, |conn| {
            bind_values!(sqlx::query(&text), values)
                .execute(conn)
                .await
                .map_err(|e| on_unique(e, Unique::AttributeValue))?;
        });
        Ok(())
    }
}
