//! The web console's browser sessions: started by signing in (a user with its
//! password and second factor, the operator with its credential), kept in the
//! database so that any instance serves any session, ended by signing out, by their
//! owner from another browser, or by the idle and absolute timeouts.

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{Caller, Principal, generate_session_secret, parse_session_secret, sha256};
use crate::domain::{Action, ClientInfo, Status, TargetKind, TenantId, Timestamp, UserId};
use crate::store::{NewSession, SessionRecord, SessionStage, SessionSummary};

use super::sign_in::{CheckedSignIn, FactorCheck};
use super::sign_in_outcomes::{SignInKind, SignInOutcome};
use super::{Directory, ServiceError, ServiceResult, audit};

/// How long console sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends (default 30 minutes).
    pub idle_seconds: i64,
    /// A session ends this long after sign-in however busy (default 12 hours).
    pub absolute_seconds: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_seconds: 30 * 60,
            absolute_seconds: 12 * 60 * 60,
        }
    }
}

/// How long the second-factor step of a sign-in may wait.
const SECOND_FACTOR_SECONDS: i64 = 5 * 60;

/// How stale a session's last use may be before a request records a new one: the
/// idle timeout is this precise, and a busy session writes once a minute at most.
const LAST_SEEN_RESOLUTION_SECONDS: i64 = 60;

/// A session just made: its secret goes into the cookie and is shown nowhere else.
#[derive(Debug)]
pub struct IssuedSession {
    pub secret: SecretString,
    pub expires_at: Timestamp,
}

/// Where a console sign-in stands after the password.
#[derive(Debug)]
pub enum SessionStart {
    SignedIn(IssuedSession),
    /// The user must give its TOTP or recovery code next, within a few minutes.
    SecondFactor(IssuedSession),
}

/// A live signed-in session: who it acts as.
#[derive(Debug, Clone, Copy)]
pub struct ActiveSession {
    pub id: Uuid,
    pub principal: Principal,
}

fn session_tenant(tenant: Option<TenantId>) -> Uuid {
    tenant.map_or(Uuid::nil(), |t| t.as_uuid())
}

/// The session's tenant key and owner for a caller that owns console sessions.
fn owner(caller: &Caller) -> ServiceResult<(Uuid, Option<UserId>)> {
    match caller.principal {
        Principal::User {
            tenant_id, user_id, ..
        } => Ok((tenant_id.as_uuid(), Some(user_id))),
        Principal::Operator => Ok((Uuid::nil(), None)),
        _ => Err(ServiceError::Forbidden(
            "only a signed-in user or the operator has sessions",
        )),
    }
}

impl Directory {
    pub fn with_session_policy(mut self, policy: SessionPolicy) -> Self {
        self.sessions = policy;
        self
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }

    /// A console sign-in's first step: the same checks, throttling, lockout and
    /// timing as [`Directory::login`]. A user with two-factor sign-in gets a session
    /// that only the second step can use.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn start_session(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        client: ClientInfo,
    ) -> ServiceResult<SessionStart> {
        let started = self.begin_session(tenant, email, password, client).await;
        self.sign_ins
            .count(SignInKind::Session, SignInOutcome::of_start(&started));
        started
    }

    /// [`Directory::start_session`]'s work, whose outcome it counts.
    async fn begin_session(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        client: ClientInfo,
    ) -> ServiceResult<SessionStart> {
        let now = Timestamp::now();
        let mut checked = self
            .check_sign_in(tenant, email, password, None, true, &client, now)
            .await?;
        if checked.factor == FactorCheck::Pending {
            let mut tx = self.store.begin().await?;
            self.keep_rehash(&mut tx, tenant, &mut checked).await?;
            let issued = self
                .insert_session(
                    &mut tx,
                    Some(tenant),
                    Some(checked.user.id),
                    SessionStage::SecondFactor,
                    &client,
                    now,
                )
                .await?;
            tx.commit().await?;
            return Ok(SessionStart::SecondFactor(issued));
        }
        let issued = self.open_session(tenant, checked, &client, now).await?;
        Ok(SessionStart::SignedIn(issued))
    }

    /// A console sign-in's second step: the TOTP or recovery code for the session
    /// the first step made. Success replaces that session with a new one (a new id
    /// and secret); a wrong code counts as a failed sign-in and leaves the first
    /// step's session for another try while it lasts.
    pub async fn finish_second_factor(
        &self,
        secret: &str,
        code: &str,
        client: ClientInfo,
    ) -> ServiceResult<IssuedSession> {
        let issued = self.complete_second_factor(secret, code, client).await;
        self.sign_ins
            .count(SignInKind::Session, SignInOutcome::of(&issued));
        issued
    }

    /// [`Directory::finish_second_factor`]'s work, whose outcome it counts.
    async fn complete_second_factor(
        &self,
        secret: &str,
        code: &str,
        client: ClientInfo,
    ) -> ServiceResult<IssuedSession> {
        let now = Timestamp::now();
        let (Some(tenant), hash) =
            parse_session_secret(secret).ok_or(ServiceError::Unauthorized)?
        else {
            return Err(ServiceError::Unauthorized);
        };
        let record = self
            .store
            .find_session(tenant.as_uuid(), &hash)
            .await?
            .filter(|r| r.stage == SessionStage::SecondFactor && now < r.expires_at)
            .ok_or(ServiceError::Unauthorized)?;
        let user_id = record
            .user
            .map(|u| u.id)
            .ok_or(ServiceError::Unauthorized)?;
        let user = self
            .store
            .get_user(tenant, user_id)
            .await?
            .filter(|u| u.status == Status::Active)
            .ok_or(ServiceError::Unauthorized)?;
        let checked = self
            .check_second_factor(tenant, user, code, &client, now)
            .await?;
        let mut tx = self.store.begin().await?;
        if !tx
            .delete_session(tenant.as_uuid(), Some(user_id), record.id)
            .await?
        {
            // Another request finished this step first.
            return Err(ServiceError::Unauthorized);
        }
        let user = self
            .finish_sign_in(&mut tx, tenant, checked, &client, now)
            .await?;
        let issued = self
            .insert_session(
                &mut tx,
                Some(tenant),
                Some(user.id),
                SessionStage::SignedIn,
                &client,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// The operator signs in to the console with its credential.
    pub async fn start_operator_session(
        &self,
        credential: &str,
        client: ClientInfo,
    ) -> ServiceResult<IssuedSession> {
        let issued = self.open_operator_session(credential, client).await;
        self.sign_ins
            .count(SignInKind::OperatorSession, SignInOutcome::of(&issued));
        issued
    }

    /// [`Directory::start_operator_session`]'s work, whose outcome it counts.
    async fn open_operator_session(
        &self,
        credential: &str,
        client: ClientInfo,
    ) -> ServiceResult<IssuedSession> {
        if credential.is_empty()
            || !self
                .store
                .is_operator_credential(&sha256(credential))
                .await?
        {
            tracing::info!(address = ?client.address, "operator console sign-in refused");
            return Err(ServiceError::Unauthorized);
        }
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let issued = self
            .insert_session(&mut tx, None, None, SessionStage::SignedIn, &client, now)
            .await?;
        tx.commit().await?;
        tracing::info!(address = ?client.address, "operator signed in to the console");
        Ok(issued)
    }

    /// Who the session with this secret acts as, while it lives: signed in, within
    /// its idle and absolute timeouts, its user still active. Anything else is
    /// [`ServiceError::Unauthorized`].
    pub async fn session(&self, secret: &str) -> ServiceResult<ActiveSession> {
        let now = Timestamp::now();
        let (tenant, hash) = parse_session_secret(secret).ok_or(ServiceError::Unauthorized)?;
        let key = session_tenant(tenant);
        let record = self
            .store
            .find_session(key, &hash)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let principal = self
            .live_principal(tenant, &record, now)
            .ok_or(ServiceError::Unauthorized)?;
        let stale_before = now.plus_seconds(-LAST_SEEN_RESOLUTION_SECONDS);
        if record.last_seen_at < stale_before {
            let mut tx = self.store.begin().await?;
            tx.touch_session(key, record.id, now).await?;
            tx.commit().await?;
        }
        Ok(ActiveSession {
            id: record.id,
            principal,
        })
    }

    fn live_principal(
        &self,
        tenant: Option<TenantId>,
        record: &SessionRecord,
        now: Timestamp,
    ) -> Option<Principal> {
        let idle_until = record.last_seen_at.plus_seconds(self.sessions.idle_seconds);
        if record.stage != SessionStage::SignedIn || now >= record.expires_at || now >= idle_until {
            return None;
        }
        match (tenant, record.user) {
            (None, None) => Some(Principal::Operator),
            (Some(tenant_id), Some(user)) if user.status == Status::Active => {
                Some(Principal::User {
                    tenant_id,
                    user_id: user.id,
                    role: user.role,
                })
            }
            _ => None,
        }
    }

    /// Ends the session with this secret (signing out). Ending one that is already
    /// gone is no error.
    pub async fn end_session(&self, secret: &str, client: ClientInfo) -> ServiceResult<()> {
        let Some((tenant, hash)) = parse_session_secret(secret) else {
            return Ok(());
        };
        let key = session_tenant(tenant);
        let Some(record) = self.store.find_session(key, &hash).await? else {
            return Ok(());
        };
        let user = record.user.map(|u| u.id);
        let mut tx = self.store.begin().await?;
        let ended = tx.delete_session(key, user, record.id).await?;
        if let (true, Some(tenant), Some(user)) = (ended, tenant, user) {
            let caller = Caller {
                principal: Principal::User {
                    tenant_id: tenant,
                    user_id: user,
                    role: record.user.map_or(crate::domain::Role::Member, |u| u.role),
                },
                client,
            };
            audit(
                &mut tx,
                &caller,
                tenant,
                Action::Logout,
                (TargetKind::User, user.to_string()),
                json!({ "sessions": 1 }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own signed-in sessions, newest first.
    pub async fn own_sessions(&self, caller: &Caller) -> ServiceResult<Vec<SessionSummary>> {
        let (key, user) = owner(caller)?;
        Ok(self.store.list_sessions(key, user).await?)
    }

    /// Ends one of the caller's own sessions (one in another browser, say).
    pub async fn end_own_session(&self, caller: &Caller, id: Uuid) -> ServiceResult<()> {
        let (key, user) = owner(caller)?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_session(key, user, id).await? {
            return Err(ServiceError::NotFound(super::Resource::Session));
        }
        self.audit_sign_out(&mut tx, caller, 1).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the caller out everywhere: every console session of its own ends, this
    /// one included.
    pub async fn end_own_sessions(&self, caller: &Caller) -> ServiceResult<u64> {
        let (key, user) = owner(caller)?;
        let mut tx = self.store.begin().await?;
        let ended = tx.delete_sessions_of(key, user).await?;
        self.audit_sign_out(&mut tx, caller, ended).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn audit_sign_out(
        &self,
        tx: &mut crate::store::Tx,
        caller: &Caller,
        sessions: u64,
    ) -> ServiceResult<()> {
        if let Principal::User {
            tenant_id, user_id, ..
        } = caller.principal
        {
            audit(
                tx,
                caller,
                tenant_id,
                Action::Logout,
                (TargetKind::User, user_id.to_string()),
                json!({ "sessions": sessions }),
            )
            .await?;
        }
        Ok(())
    }

    /// Opens a signed-in session for a sign-in that passed every check.
    async fn open_session(
        &self,
        tenant: TenantId,
        checked: CheckedSignIn,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<IssuedSession> {
        let mut tx = self.store.begin().await?;
        let user = self
            .finish_sign_in(&mut tx, tenant, checked, client, now)
            .await?;
        let issued = self
            .insert_session(
                &mut tx,
                Some(tenant),
                Some(user.id),
                SessionStage::SignedIn,
                client,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn insert_session(
        &self,
        tx: &mut crate::store::Tx,
        tenant: Option<TenantId>,
        user: Option<UserId>,
        stage: SessionStage,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<IssuedSession> {
        let secret = generate_session_secret(tenant);
        let lifetime = match stage {
            SessionStage::SecondFactor => SECOND_FACTOR_SECONDS,
            SessionStage::SignedIn => self.sessions.absolute_seconds,
        };
        let expires_at = now.plus_seconds(lifetime);
        tx.insert_session(NewSession {
            tenant: session_tenant(tenant),
            id: Uuid::now_v7(),
            secret_hash: &sha256(&secret),
            user,
            stage,
            now,
            expires_at,
            client,
        })
        .await?;
        Ok(IssuedSession {
            secret: SecretString::from(secret),
            expires_at,
        })
    }
}
