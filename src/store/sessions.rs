//! The web console's browser sessions: found by the hash of the cookie's secret,
//! listed and ended per user. The operator's sessions belong to the nil tenant.

use uuid::Uuid;

use crate::domain::{ClientInfo, Role, Status, Timestamp, UserId};

use super::codec::parse_enum;
use super::{Store, StoreResult, Tx, read, write};

/// How far a session has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor is still to come.
    SecondFactor,
    SignedIn,
}

impl SessionStage {
    fn as_str(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::SignedIn => "signed_in",
        }
    }

    fn parse(stage: &str) -> Self {
        if stage == "second_factor" {
            SessionStage::SecondFactor
        } else {
            SessionStage::SignedIn
        }
    }
}

/// A session about to be stored.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// The user's tenant, or the nil UUID for the operator.
    pub tenant: Uuid,
    pub id: Uuid,
    pub secret_hash: &'a [u8],
    /// `None`: the operator.
    pub user: Option<UserId>,
    pub stage: SessionStage,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    pub client: &'a ClientInfo,
}

/// A stored session with its user's current role and status.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: Uuid,
    /// `None`: the operator.
    pub user: Option<SessionUser>,
    pub stage: SessionStage,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionUser {
    pub id: UserId,
    pub role: Role,
    pub status: Status,
}

/// A signed-in session as its owner sees it in the list of its sessions.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

type RecordRow = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    String,
    Timestamp,
    Timestamp,
    Timestamp,
);

type SummaryRow = (
    Uuid,
    Timestamp,
    Timestamp,
    Timestamp,
    Option<String>,
    Option<String>,
);

/// The condition on `user_id` (bound as `$2`) that picks a user's sessions, or the
/// operator's, through the index by user.
fn owned_by(user: Option<UserId>) -> &'static str {
    match user {
        Some(_) => "user_id = $2",
        None => "user_id IS NULL AND $2 IS NULL",
    }
}

impl Store {
    /// The session whose secret hashes to `secret_hash`, with its user's state.
    pub async fn find_session(
        &self,
        tenant: Uuid,
        secret_hash: &[u8],
    ) -> StoreResult<Option<SessionRecord>> {
        let row: Option<RecordRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT s.id, s.user_id, u.role, u.status, s.stage, s.created_at, \
                 s.last_seen_at, s.expires_at \
                 FROM console_sessions s \
                 LEFT JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
                 WHERE s.tenant_id = $1 AND s.secret_hash = $2",
            )
            .bind(tenant)
            .bind(secret_hash)
            .fetch_optional(pool)
            .await?
        });
        row.map(
            |(id, user, role, status, stage, created_at, last_seen_at, expires_at)| {
                let user = match (user, role, status) {
                    (Some(user), Some(role), Some(status)) => Some(SessionUser {
                        id: UserId::from_uuid(user),
                        role: parse_enum("users.role", &role)?,
                        status: parse_enum("users.status", &status)?,
                    }),
                    _ => None,
                };
                Ok(SessionRecord {
                    id,
                    user,
                    stage: SessionStage::parse(&stage),
                    created_at,
                    last_seen_at,
                    expires_at,
                })
            },
        )
        .transpose()
    }

    /// The signed-in sessions of a user (`None`: the operator's), newest first.
    pub async fn list_sessions(
        &self,
        tenant: Uuid,
        user: Option<UserId>,
    ) -> StoreResult<Vec<SessionSummary>> {
        let rows: Vec<SummaryRow> = read!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT id, created_at, last_seen_at, expires_at, user_agent, address \
                 FROM console_sessions WHERE tenant_id = $1 AND {} \
                 AND stage = 'signed_in' ORDER BY created_at DESC, id",
                owned_by(user)
            ))
            .bind(tenant)
            .bind(user.map(|u| u.as_uuid()))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_seen_at, expires_at, user_agent, address)| SessionSummary {
                    id,
                    created_at,
                    last_seen_at,
                    expires_at,
                    user_agent,
                    address,
                },
            )
            .collect())
    }
}

impl Tx {
    /// Stores a new session, and drops the same user's sessions that have ended.
    pub async fn insert_session(&mut self, session: NewSession<'_>) -> StoreResult<()> {
        let user = session.user.map(|u| u.as_uuid());
        write!(self, |conn| {
            sqlx::query(&format!(
                "DELETE FROM console_sessions WHERE tenant_id = $1 AND {} AND expires_at <= $3",
                owned_by(session.user)
            ))
            .bind(session.tenant)
            .bind(user)
            .bind(session.now)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO console_sessions (tenant_id, id, secret_hash, user_id, stage, \
                 created_at, last_seen_at, expires_at, user_agent, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)",
            )
            .bind(session.tenant)
            .bind(session.id)
            .bind(session.secret_hash)
            .bind(user)
            .bind(session.stage.as_str())
            .bind(session.now)
            .bind(session.expires_at)
            .bind(session.client.user_agent.as_deref())
            .bind(session.client.address.as_deref())
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Notes that the session served a request now (the idle timeout counts from it).
    pub async fn touch_session(
        &mut self,
        tenant: Uuid,
        id: Uuid,
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE console_sessions SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id)
            .bind(now)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Ends one session of a user (`None`: the operator's); whether it existed.
    pub async fn delete_session(
        &mut self,
        tenant: Uuid,
        user: Option<UserId>,
        id: Uuid,
    ) -> StoreResult<bool> {
        let deleted = write!(self, |conn| {
            sqlx::query(&format!(
                "DELETE FROM console_sessions WHERE tenant_id = $1 AND id = $3 AND {}",
                owned_by(user)
            ))
            .bind(tenant)
            .bind(user.map(|u| u.as_uuid()))
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Ends every session of a user (`None`: the operator's); how many there were.
    pub async fn delete_sessions_of(
        &mut self,
        tenant: Uuid,
        user: Option<UserId>,
    ) -> StoreResult<u64> {
        let deleted = write!(self, |conn| {
            sqlx::query(&format!(
                "DELETE FROM console_sessions WHERE tenant_id = $1 AND {}",
                owned_by(user)
            ))
            .bind(tenant)
            .bind(user.map(|u| u.as_uuid()))
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(deleted)
    }
}
