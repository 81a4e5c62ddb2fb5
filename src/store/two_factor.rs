//! What two-factor sign-in reads and writes: a user's TOTP secret (pending until
//! confirmed), the newest step accepted, and the hashes of its recovery codes.

use crate::domain::{TenantId, Timestamp, UserId};

use super::{Store, StoreResult, Tx, read, write};

/// A user's TOTP enrolment as stored.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// Base32, as [`crate::auth::TotpSecret::from_base32`] reads it.
    pub secret: String,
    pub confirmed: bool,
}

impl Store {
    /// The user's TOTP enrolment, confirmed or pending.
    pub async fn totp_enrolment(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> StoreResult<Option<TotpEnrolment>> {
        let row: Option<(String, Option<Timestamp>)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT secret, confirmed_at FROM two_factor WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(secret, confirmed_at)| TotpEnrolment {
            secret,
            confirmed: confirmed_at.is_some(),
        }))
    }

    /// How many unused recovery codes the user has.
    pub async fn count_recovery_codes(&self, tenant: TenantId, user: UserId) -> StoreResult<i64> {
        let count = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .fetch_one(pool)
            .await?
        });
        Ok(count)
    }
}

impl Tx {
    /// Starts a pending enrolment with `secret`, replacing an earlier pending one.
    pub async fn replace_totp_enrolment(
        &mut self,
        tenant: TenantId,
        user: UserId,
        secret: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO two_factor (tenant_id, user_id, secret, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
                 secret = $3, confirmed_at = NULL, last_used_step = NULL, created_at = $4",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(secret)
            .bind(now)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Marks the enrolment confirmed.
    pub async fn confirm_totp_enrolment(
        &mut self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE two_factor SET confirmed_at = $3 WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(now)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Accepts time step `step` for the user's TOTP if no step as new was accepted
    /// before: one statement, so that a code is accepted once even when several
    /// instances receive it at the same moment.
    pub async fn accept_totp_step(
        &mut self,
        tenant: TenantId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool> {
        let accepted = write!(self, |conn| {
            sqlx::query(
                "UPDATE two_factor SET last_used_step = $3 WHERE tenant_id = $1 AND user_id = $2 \
                 AND (last_used_step IS NULL OR last_used_step < $3)",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(step)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(accepted == 1)
    }

    /// Replaces the user's recovery codes with these hashes.
    pub async fn replace_recovery_codes(
        &mut self,
        tenant: TenantId,
        user: UserId,
        code_hashes: &[Vec<u8>],
        now: Timestamp,
    ) -> StoreResult<()> {
        self.delete_recovery_codes(tenant, user).await?;
        for hash in code_hashes {
            write!(self, |conn| {
                sqlx::query(
                    "INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(hash)
                .bind(now)
                .execute(conn)
                .await?;
            });
        }
        Ok(())
    }

    async fn delete_recovery_codes(&mut self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Uses up the recovery code with this hash: `true` if the user had it.
    pub async fn take_recovery_code(
        &mut self,
        tenant: TenantId,
        user: UserId,
        code_hash: &[u8],
    ) -> StoreResult<bool> {
        let taken = write!(self, |conn| {
            sqlx::query(
                "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(code_hash)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(taken == 1)
    }

    /// Removes the user's TOTP enrolment and recovery codes.
    pub async fn delete_two_factor(&mut self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        self.delete_recovery_codes(tenant, user).await?;
        write!(self, |conn| {
            sqlx::query("DELETE FROM two_factor WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Turns the user's `two_factor_enabled` on or off as a change of the user (its
    /// version rises, so every face's ETag follows); answers the new version.
    pub async fn set_two_factor_enabled(
        &mut self,
        tenant: TenantId,
        user: UserId,
        enabled: bool,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        Ok(write!(self, |conn| {
            sqlx::query_scalar(
                "UPDATE users SET two_factor_enabled = $3, version = version + 1, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2 RETURNING version",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(enabled)
            .bind(now)
            .fetch_optional(conn)
            .await?
        }))
    }
}
