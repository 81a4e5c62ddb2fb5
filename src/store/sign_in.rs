//! What signing in reads and writes: the password hash, failure counters and locks,
//! login metadata, and the tokens issued to users.

use uuid::Uuid;

use crate::domain::{Role, Status, TenantId, Timestamp, User, UserId};

use super::access_tokens::{NewToken, TokenTable};
use super::codec::parse_enum;
use super::sql::{Value, bind_values};
use super::users::{SELECT_USERS, UserRow};
use super::{Store, StoreResult, Tx, read, write};

/// A failure counter's state after one more failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: i64,
    pub locked_until: Option<Timestamp>,
}

/// How a subject is counted: at most `max_failures` in `window_seconds`, then locked
/// for `lock_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    pub max_failures: i64,
    pub window_seconds: i64,
    pub lock_seconds: i64,
}

#[derive(sqlx::FromRow)]
struct SignInRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

/// A user token as authentication needs it: the user's current role and status.
#[derive(Debug, Clone)]
pub struct UserTokenGrant {
    pub user_id: UserId,
    pub role: Role,
    pub status: Status,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_action_at: Option<Timestamp>,
}

impl Store {
    /// The user with this email key and its password hash, in one read.
    pub async fn find_sign_in(
        &self,
        tenant: TenantId,
        email_key: &str,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        self.user_with_password(tenant, "u.email_key", Value::Text(email_key.to_owned()))
            .await
    }

    /// The user with this id and its password hash, in one read.
    pub async fn find_user_with_password(
        &self,
        tenant: TenantId,
        id: UserId,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        self.user_with_password(tenant, "u.id", Value::Uuid(id.as_uuid()))
            .await
    }

    /// The user whose `column` is `key`, with its password hash.
    async fn user_with_password(
        &self,
        tenant: TenantId,
        column: &'static str,
        key: Value,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        let sql = format!(
            "SELECT s.*, (SELECT p.password_hash FROM users p \
             WHERE p.tenant_id = s.tenant_id AND p.id = s.id) AS password_hash \
             FROM ({SELECT_USERS} WHERE u.tenant_id = $1 AND {column} = $2) s"
        );
        let values = [Value::Uuid(tenant.as_uuid()), key];
        let row: Option<SignInRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&sql), values.clone())
                .fetch_optional(pool)
                .await?
        });
        let Some(row) = row else { return Ok(None) };
        let user = self.with_values(vec![User::try_from(row.user)?]).await?;
        Ok(user
            .into_iter()
            .next()
            .map(|user| (user, row.password_hash)))
    }

    /// Until when each of `subjects` is locked, for those locked after `now`.
    pub async fn locked_subjects(
        &self,
        tenant: TenantId,
        subjects: &[&str],
        now: Timestamp,
    ) -> StoreResult<Vec<(String, Timestamp)>> {
        let placeholders: Vec<String> =
            (0..subjects.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT subject, locked_until FROM login_throttle \
             WHERE tenant_id = $1 AND locked_until > $2 AND subject IN ({})",
            placeholders.join(", ")
        );
        let locked: Vec<(String, Timestamp)> = read!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(tenant.as_uuid()).bind(now);
            for subject in subjects {
                query = query.bind(*subject);
            }
            query.fetch_all(pool).await?
        });
        Ok(locked)
    }

    /// The token whose secret hashes to `secret_hash`, with its user's state.
    pub async fn find_user_token(
        &self,
        tenant: TenantId,
        secret_hash: &[u8],
    ) -> StoreResult<Option<UserTokenGrant>> {
        type Row = (
            Uuid,
            String,
            String,
            Timestamp,
            Option<Timestamp>,
            Option<Timestamp>,
        );
        let row: Option<Row> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.role, u.status, t.expires_at, t.revoked_at, u.last_action_at \
                 FROM user_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id \
                 WHERE t.tenant_id = $1 AND t.secret_hash = $2",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .fetch_optional(pool)
            .await?
        });
        row.map(
            |(id, role, status, expires_at, revoked_at, last_action_at)| {
                Ok(UserTokenGrant {
                    user_id: UserId::from_uuid(id),
                    role: parse_enum("users.role", &role)?,
                    status: parse_enum("users.status", &status)?,
                    expires_at,
                    revoked_at,
                    last_action_at,
                })
            },
        )
        .transpose()
    }
}

impl Tx {
    /// Counts one more failure of `subject` under `rule`, starting a new window when
    /// the last one has passed, and locks the subject when the count reaches the
    /// rule's maximum. One statement, so that concurrent instances count together.
    pub async fn count_failure(
        &mut self,
        tenant: TenantId,
        subject: &str,
        rule: ThrottleRule,
        now: Timestamp,
    ) -> StoreResult<ThrottleState> {
        let window_opened_before = now.plus_seconds(-rule.window_seconds);
        let lock_until = now.plus_seconds(rule.lock_seconds);
        let (failures, locked_until): (i64, Option<Timestamp>) = write!(self, |conn| {
            sqlx::query_as(
                "INSERT INTO login_throttle (tenant_id, subject, window_start, failures, locked_until) \
                 VALUES ($1, $2, $3, 1, CASE WHEN 1 >= $5 THEN $6 END) \
                 ON CONFLICT (tenant_id, subject) DO UPDATE SET \
                 failures = CASE WHEN login_throttle.window_start <= $4 THEN 1 \
                     ELSE login_throttle.failures + 1 END, \
                 locked_until = CASE \
                     WHEN (CASE WHEN login_throttle.window_start <= $4 THEN 1 \
                         ELSE login_throttle.failures + 1 END) >= $5 THEN $6 \
                     ELSE login_throttle.locked_until END, \
                 window_start = CASE WHEN login_throttle.window_start <= $4 THEN $3 \
                     ELSE login_throttle.window_start END \
                 RETURNING failures, locked_until",
            )
            .bind(tenant.as_uuid())
            .bind(subject)
            .bind(now)
            .bind(window_opened_before)
            .bind(rule.max_failures)
            .bind(lock_until)
            .fetch_one(conn)
            .await?
        });
        Ok(ThrottleState {
            failures,
            locked_until,
        })
    }

    /// Forgets a subject's failures and lock (a successful sign-in; an unlock).
    pub async fn clear_failures(&mut self, tenant: TenantId, subject: &str) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("DELETE FROM login_throttle WHERE tenant_id = $1 AND subject = $2")
                .bind(tenant.as_uuid())
                .bind(subject)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Forgets the failures and locks of every subject that starts with `prefix`
    /// (an account's counters per client address). Runs within the tenant's rows.
    pub async fn clear_failures_with_prefix(
        &mut self,
        tenant: TenantId,
        prefix: &str,
    ) -> StoreResult<()> {
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        write!(self, |conn| {
            sqlx::query(
                "DELETE FROM login_throttle \
                 WHERE tenant_id = $1 AND substr(subject, 1, $2) = $3",
            )
            .bind(tenant.as_uuid())
            .bind(length)
            .bind(prefix)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Records a failed sign-in of an existing user.
    pub async fn record_failed_login(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.update_user_at(
            "UPDATE users SET failed_logins = failed_logins + 1, last_failed_login_at = $3 \
             WHERE tenant_id = $1 AND id = $2",
            tenant,
            user,
            at,
        )
        .await?;
        Ok(())
    }

    /// Records an authenticated action unless one was recorded since `stale_before`.
    pub async fn record_action(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE users SET last_action_at = $3 WHERE tenant_id = $1 AND id = $2 \
                 AND (last_action_at IS NULL OR last_action_at < $4)",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(at)
            .bind(stale_before)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Stores a token issued to `user`, and drops the tenant's expired user tokens.
    pub async fn insert_user_token(
        &mut self,
        tenant: TenantId,
        user: UserId,
        secret_hash: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        let token = NewToken {
            tenant,
            subject: user.as_uuid(),
            secret_hash,
            expires_at,
            now,
        };
        self.insert_token(TokenTable::User, token).await
    }

    /// Revokes the user token whose secret hashes to `secret_hash`.
    pub async fn revoke_user_token(
        &mut self,
        tenant: TenantId,
        secret_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let revoked = write!(self, |conn| {
            sqlx::query(
                "UPDATE user_tokens SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND secret_hash = $2 AND revoked_at IS NULL",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(revoked == 1)
    }
}

impl Tx {
    /// Gives the user a new invitation, replacing an earlier one.
    pub async fn replace_invitation(
        &mut self,
        tenant: TenantId,
        user: UserId,
        secret_hash: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO invitations (tenant_id, user_id, secret_hash, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
                 secret_hash = $3, expires_at = $4, created_at = $5",
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

    /// Takes the invitation whose secret hashes to `secret_hash` (it can be taken
    /// once): its user and expiry.
    pub async fn take_invitation(
        &mut self,
        tenant: TenantId,
        secret_hash: &[u8],
    ) -> StoreResult<Option<(UserId, Timestamp)>> {
        let row: Option<(Uuid, Timestamp)> = write!(self, |conn| {
            sqlx::query_as(
                "DELETE FROM invitations WHERE tenant_id = $1 AND secret_hash = $2 \
                 RETURNING user_id, expires_at",
            )
            .bind(tenant.as_uuid())
            .bind(secret_hash)
            .fetch_optional(conn)
            .await?
        });
        Ok(row.map(|(user, expires_at)| (UserId::from_uuid(user), expires_at)))
    }
}
