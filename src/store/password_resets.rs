//! What password resets read and write: the one-time reset tokens (their hashes),
//! when a user's last reset mail went out, and the end of a user's sign-ins.

use uuid::Uuid;

use crate::domain::{TenantId, Timestamp, UserId};

use super::{StoreResult, Tx, write};

impl Tx {
    /// Gives the user a new reset token, replacing an earlier one. Inserts only for
    /// a user of the tenant, so that the same statement runs (and changes nothing)
    /// for an id that names no user.
    pub async fn replace_password_reset(
        &mut self,
        tenant: TenantId,
        user: UserId,
        secret_hash: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO password_resets (tenant_id, user_id, secret_hash, expires_at, created_at) \
                 SELECT u.tenant_id, u.id, $3, $4, $5 FROM users u \
                 WHERE u.tenant_id = $1 AND u.id = $2 \
                 ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
                 secret_hash = excluded.secret_hash, expires_at = excluded.expires_at, \
                 created_at = excluded.created_at",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(secret_hash)
            .bind(expires_at)
            .bind(now)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Takes the reset token whose secret hashes to `secret_hash` (it can be taken
    /// once): its user and expiry.
    pub async fn take_password_reset(
        &mut self,
        tenant: TenantId,
        secret_hash: &[u8],
    ) -> StoreResult<Option<(UserId, Timestamp)>> {
        let row: Option<(Uuid, Timestamp)> = write!(self, |conn| {
            sqlx::query_as(
                "DELETE FROM password_resets WHERE tenant_id = $1 AND secret_hash = $2 \
                 RETURNING user_id, expires_at",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .fetch_optional(conn)
            .await?
        });
        Ok(row.map(|(user, expires_at)| (UserId::from_uuid(user), expires_at)))
    }

    /// Records that a reset mail went out to the user at `at`. Not a change of the
    /// user's profile: its version and `updated_at` stay.
    pub async fn record_password_reset_sent(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.update_user_at(
            "UPDATE users SET password_reset_sent_at = $3 WHERE tenant_id = $1 AND id = $2",
            tenant,
            user,
            at,
        )
        .await
    }

    /// Ends every sign-in of the user: its unrevoked tokens are revoked at `at`.
    pub async fn revoke_user_tokens_of(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let revoked = write!(self, |conn| {
            sqlx::query(
                "UPDATE user_tokens SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(at)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(revoked)
    }
}
