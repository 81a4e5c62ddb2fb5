use uuid::Uuid;

use crate::domain::{ApiKeyId, ApiKeyRole, TenantId, Timestamp};

use super::codec::parse_enum;
use super::{Store, StoreResult, Tx, read, write};

/// An access token as authentication needs it: its own expiry and revocation, and
/// those of the key it acts as.
#[derive(Debug, Clone)]
pub struct AccessTokenGrant {
    pub api_key_id: ApiKeyId,
    /// The key's role, or [`ApiKeyRole::Reader`] for a token granted only read
    /// scopes.
    pub role: ApiKeyRole,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub key_expires_at: Option<Timestamp>,
    pub key_revoked_at: Option<Timestamp>,
}

impl AccessTokenGrant {
    pub fn is_usable_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && now < self.expires_at
            && self.key_revoked_at.is_none()
            && self.key_expires_at.is_none_or(|at| now < at)
    }
}

type GrantRow = (
    Uuid,
    String,
    bool,
    Timestamp,
    Option<Timestamp>,
    Option<Timestamp>,
    Option<Timestamp>,
);

impl Store {
    /// The token whose secret hashes to `secret_hash`, with its key's state.
    pub async fn find_access_token(
        &self,
        tenant: TenantId,
        secret_hash: &[u8],
    ) -> StoreResult<Option<AccessTokenGrant>> {
        let row: Option<GrantRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT k.id, k.role, t.read_only, t.expires_at, t.revoked_at, k.expires_at, k.revoked_at \
                 FROM access_tokens t \
                 JOIN api_keys k ON k.tenant_id = t.tenant_id AND k.id = t.api_key_id \
                 WHERE t.tenant_id = $1 AND t.secret_hash = $2",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .fetch_optional(pool)
            .await?
        });
        row.map(
            |(key, role, read_only, expires_at, revoked_at, key_expires_at, key_revoked_at)| {
                let key_role: ApiKeyRole = parse_enum("api_keys.role", &role)?;
                Ok(AccessTokenGrant {
                    api_key_id: ApiKeyId::from_uuid(key),
                    role: if read_only {
                        ApiKeyRole::Reader
                    } else {
                        key_role
                    },
                    expires_at,
                    revoked_at,
                    key_expires_at,
                    key_revoked_at,
                })
            },
        )
        .transpose()
    }
}

/// The two tables of issued bearer tokens, which differ only in whom a token acts
/// as: an API key (access tokens) or a user (signed-in users' tokens).
#[derive(Debug, Clone, Copy)]
pub(super) enum TokenTable {
    Access,
    User,
}

impl TokenTable {
    fn name(self) -> &'static str {
        match self {
            TokenTable::Access => "access_tokens",
            TokenTable::User => "user_tokens",
        }
    }

    fn subject_column(self) -> &'static str {
        match self {
            TokenTable::Access => "api_key_id",
            TokenTable::User => "user_id",
        }
    }
}

/// A token to store.
pub(super) struct NewToken<'a> {
    pub tenant: TenantId,
    pub subject: Uuid,
    pub secret_hash: &'a [u8],
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

impl Tx {
    /// Stores a new token, and drops the tenant's tokens in that table that have
    /// expired.
    pub(super) async fn insert_token(
        &mut self,
        table: TokenTable,
        token: NewToken<'_>,
    ) -> StoreResult<()> {
        let table_name = table.name();
        let delete = format!("DELETE FROM {table_name} WHERE tenant_id = $1 AND expires_at <= $2");
        let insert = format!(
            "INSERT INTO {table_name} (tenant_id, id, secret_hash, {}, expires_at, revoked_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, NULL, $6)",
            table.subject_column()
        );
        write!(self, |conn| {
            sqlx::query(&delete)
                .bind(token.tenant.as_uuid())
                .bind(token.now)
                .execute(&mut *conn)
                .await?;
            sqlx::query(&insert)
                .bind(token.tenant.as_uuid())
                .bind(Uuid::now_v7())
                .bind(token.secret_hash)
                .bind(token.subject)
                .bind(token.expires_at)
                .bind(token.now)
                .execute(&mut *conn)
                .await?;
        });
        Ok(())
    }

    /// Stores a new token for `key`, and drops the tenant's tokens that have expired.
    /// A `read_only` token reads and never writes, whatever its key's role.
    pub async fn insert_access_token(
        &mut self,
        tenant: TenantId,
        key: ApiKeyId,
        secret_hash: &[u8],
        read_only: bool,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        let token = NewToken {
            tenant,
            subject: key.as_uuid(),
            secret_hash,
            expires_at,
            now,
        };
        self.insert_token(TokenTable::Access, token).await?;
        if read_only {
            write!(self, |conn| {
                sqlx::query(
                    "UPDATE access_tokens SET read_only = TRUE \
                     WHERE tenant_id = $1 AND secret_hash = $2",
                )
                .bind(tenant.as_uuid())
                .bind(secret_hash)
                .execute(conn)
                .await?;
            });
        }
        Ok(())
    }

    /// Revokes the key's token whose secret hashes to `secret_hash`; `false` when the
    /// key has no such unrevoked token.
    pub async fn revoke_access_token(
        &mut self,
        tenant: TenantId,
        key: ApiKeyId,
        secret_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let revoked = write!(self, |conn| {
            sqlx::query(
                "UPDATE access_tokens SET revoked_at = $4 WHERE tenant_id = $1 \
                 AND secret_hash = $2 AND api_key_id = $3 AND revoked_at IS NULL",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .bind(key.as_uuid())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(revoked == 1)
    }
}
