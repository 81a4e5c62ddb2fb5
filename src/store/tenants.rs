use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{PageRequest, Tenant, TenantId, Timestamp};

use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreResult, Tx, read, write};

const SELECT_TENANTS: &str = "SELECT tenant_id, name, version, created_at, updated_at FROM tenants";

#[derive(FromRow)]
struct TenantRow {
    tenant_id: Uuid,
    name: String,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Tenant {
            id: TenantId::from_uuid(row.tenant_id),
            name: row.name,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Store {
    pub async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("{SELECT_TENANTS} WHERE tenant_id = $1");
        let row: Option<TenantRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Tenant::from))
    }

    /// Up to `page.limit + 1` tenants in id order after the cursor.
    pub async fn list_tenants(&self, page: PageRequest) -> StoreResult<Vec<Tenant>> {
        let mut sql = Sql::new(SELECT_TENANTS);
        if let Some(after) = page.after {
            sql.push(" WHERE tenant_id > ")
                .bind(Value::Uuid(after.last_id()));
        }
        sql.push(" ORDER BY tenant_id LIMIT ")
            .bind(Value::Int(i64::from(page.limit.get()) + 1));
        let Sql { text, values } = sql;
        let rows: Vec<TenantRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Tenant::from).collect())
    }
}

impl Tx {
    /// Reads the tenant and locks it against other writers until the transaction ends.
    pub async fn lock_tenant(&mut self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!(
            "{SELECT_TENANTS} WHERE tenant_id = $1{}",
            self.row_lock("tenants")
        );
        let row: Option<TenantRow> = write!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(id.as_uuid())
                .fetch_optional(conn)
                .await?
        });
        Ok(row.map(Tenant::from))
    }

    pub async fn insert_tenant(&mut self, tenant: &Tenant) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO tenants (tenant_id, name, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.id.as_uuid())
            .bind(&tenant.name)
            .bind(tenant.version)
            .bind(tenant.created_at)
            .bind(tenant.updated_at)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Writes the tenant's name if its stored version is still `expected`.
    pub async fn update_tenant(&mut self, tenant: &Tenant, expected: i64) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query(
                "UPDATE tenants SET name = $2, version = $3, updated_at = $4 \
                 WHERE tenant_id = $1 AND version = $5",
            )
            .bind(tenant.id.as_uuid())
            .bind(&tenant.name)
            .bind(tenant.version)
            .bind(tenant.updated_at)
            .bind(expected)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(result == 1)
    }

    /// Deletes the tenant and everything of it if its version is still `expected`.
    pub async fn delete_tenant(&mut self, id: TenantId, expected: i64) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query("DELETE FROM tenants WHERE tenant_id = $1 AND version = $2")
                .bind(id.as_uuid())
                .bind(expected)
                .execute(conn)
                .await?
                .rows_affected()
        });
        if result == 1 {
            self.delete_derived_of_tenant(id).await?;
        }
        Ok(result == 1)
    }
}

/// A tenant stored for a test, in a transaction of its own: its id.
#[cfg(test)]
pub(super) async fn test_tenant(store: &Store) -> TenantId {
    let now = Timestamp::now();
    let tenant = Tenant {
        id: TenantId::generate(),
        name: "T".into(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_tenant(&tenant).await.unwrap();
    tx.commit().await.unwrap();
    tenant.id
}
