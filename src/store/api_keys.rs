use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{ApiKey, ApiKeyId, PageRequest, TenantId, Timestamp};

use super::codec::parse_enum;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, Unique, on_unique, read, write};

const SELECT_KEYS: &str = "SELECT tenant_id, id, name, description, role, expires_at, \
    revoked_at, last_used_at, created_at FROM api_keys";

#[derive(FromRow)]
struct ApiKeyRow {
    tenant_id: Uuid,
    id: Uuid,
    name: String,
    description: String,
    role: String,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            name: row.name,
            description: row.description,
            role: parse_enum("api_keys.role", &row.role)?,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
            created_at: row.created_at,
        })
    }
}

impl Store {
    pub async fn get_api_key(&self, tenant: TenantId, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        let sql = format!("{SELECT_KEYS} WHERE tenant_id = $1 AND id = $2");
        let row: Option<ApiKeyRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.map(ApiKey::try_from).transpose()
    }

    /// The key whose secret hashes to `secret_hash`, revoked or expired ones included.
    pub async fn find_api_key(
        &self,
        tenant: TenantId,
        secret_hash: &[u8],
    ) -> StoreResult<Option<ApiKey>> {
        let sql = format!("{SELECT_KEYS} WHERE tenant_id = $1 AND secret_hash = $2");
        let row: Option<ApiKeyRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(secret_hash)
                .fetch_optional(pool)
                .await?
        });
        row.map(ApiKey::try_from).transpose()
    }

    /// Up to `page.limit + 1` keys in id order after the cursor.
    pub async fn list_api_keys(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Vec<ApiKey>> {
        let mut sql = Sql::new(SELECT_KEYS);
        sql.push(" WHERE tenant_id = ")
            .bind(Value::Uuid(tenant.as_uuid()));
        if let Some(after) = page.after {
            sql.push(" AND id > ").bind(Value::Uuid(after.last_id()));
        }
        sql.push(" ORDER BY id LIMIT ")
            .bind(Value::Int(i64::from(page.limit.get()) + 1));
        let Sql { text, values } = sql;
        let rows: Vec<ApiKeyRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ApiKey::try_from).collect()
    }
}

impl Tx {
    pub async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &[u8]) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO api_keys (tenant_id, id, name, description, role, secret_hash, \
                 expires_at, revoked_at, last_used_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(key.tenant_id.as_uuid())
            .bind(key.id.as_uuid())
            .bind(&key.name)
            .bind(&key.description)
            .bind(key.role.as_str())
            .bind(secret_hash)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(key.last_used_at)
            .bind(key.created_at)
            .execute(conn)
            .await
            .map_err(|e| on_unique(e, Unique::ApiKeySecret))?;
        });
        Ok(())
    }

    /// Marks the key revoked; `false` when it does not exist or already was.
    pub async fn revoke_api_key(
        &mut self,
        tenant: TenantId,
        id: ApiKeyId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            )
            .bind(tenant.as_uuid())
            .bind(id.as_uuid())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(result == 1)
    }

    /// Records a use of the key unless one was recorded since `stale_before`.
    pub async fn touch_api_key(
        &mut self,
        tenant: TenantId,
        id: ApiKeyId,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2 \
                 AND (last_used_at IS NULL OR last_used_at < $4)",
            )
            .bind(tenant.as_uuid())
            .bind(id.as_uuid())
            .bind(now)
            .bind(stale_before)
            .execute(conn)
            .await?;
        });
        Ok(())
    }
}
