//! Every operation any face performs, with its authorization and audit. The only
//! caller of the store; it never builds an HTTP response.

mod api_keys;
mod attributes;
mod authn;
mod changes;
mod creates;
mod credentials;
mod groups;
mod memberships;
mod password_resets;
mod recent;
mod sessions;
mod sign_in;
mod sign_in_outcomes;
mod tenants;
mod transfer;
mod two_factor;
mod users;
mod verified;
mod webhooks;

use std::fmt;

use crate::auth::{Caller, PasswordHasher, Principal};
use crate::domain::{
    Action, Actor, AuditEvent, AuditEventId, ClientInfo, FieldViolation, TargetKind, TenantId,
    Timestamp,
};
use crate::mail::{Mailer, PublicUrl};
use crate::store::{Store, StoreError, Tx, Unique};

pub use api_keys::CreatedApiKey;
pub use authn::IssuedAccessToken;
pub use changes::{MAX_FEED_LIMIT, MAX_FEED_WAIT};
pub use groups::{DirectoryObject, GroupWithMembers, Listing};
pub use memberships::{GroupsChange, MemberChange};
pub use password_resets::{Delivery, PASSWORD_RESET_TTL_SECONDS};
pub use recent::TRUST_SECONDS;
pub use sessions::{ActiveSession, IssuedSession, SessionPolicy, SessionStart};
pub use sign_in::{SignInPolicy, SignedIn};
pub use transfer::{ExportItem, ExportOptions, Importer};
pub use two_factor::{SecondFactor, TotpEnrolmentStarted, TwoFactorStatus};
pub use users::{Invitation, InvitationOutcome, MemberOf, UserList, UserWithGroups};
pub use webhooks::{SECRET_OVERLAP_SECONDS, WebhookWithSecret};

/// The kinds of object a lookup can miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Tenant,
    User,
    Group,
    Membership,
    ApiKey,
    Attribute,
    Session,
    Webhook,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Tenant => "tenant",
            Resource::User => "user",
            Resource::Group => "group",
            Resource::Membership => "membership",
            Resource::ApiKey => "API key",
            Resource::Attribute => "attribute",
            Resource::Session => "session",
            Resource::Webhook => "webhook",
        })
    }
}

/// Why an operation was refused. Each face maps these to its wire format in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such object, or one the caller may not see (another tenant's).
    #[error("{0} not found")]
    NotFound(Resource),
    /// The change would break a uniqueness rule; `field` names the clashing value.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// The change would make a group a member of itself, directly or through
    /// other groups.
    #[error("{0}")]
    Cycle(crate::domain::Cycle),
    /// The input broke the rules named per field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No valid credential.
    #[error("a valid credential is required")]
    Unauthorized,
    /// Too many failed sign-ins for this account: locked for a while.
    #[error("this account is locked after too many failed sign-ins; try again later")]
    Locked { retry_after_seconds: i64 },
    /// The password was right, but the account signs in with a second factor too and
    /// none was given.
    #[error("this account signs in with a two-factor code as well; give one")]
    TwoFactorRequired,
    /// The password was right, but the two-factor code is wrong, already used or not
    /// a recovery code of the user.
    #[error("the two-factor code is not valid")]
    TwoFactorRejected,
    /// Too many sign-in attempts from this client address.
    #[error("too many sign-in attempts from this address; try again later")]
    TooManyAttempts { retry_after_seconds: i64 },
    /// The request took longer than the server allows for one.
    #[error("the request took longer than the server allows ({seconds} s)")]
    TimedOut { seconds: u64 },
    /// What was asked for is no longer kept (a change feed position retention passed).
    #[error("{0}")]
    Gone(String),
    /// The object changed since the version the caller named (If-Match).
    #[error("the resource has changed since the version named in If-Match")]
    PreconditionFailed,
    /// The database could not be reached in time: the caller may retry after a while.
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable { retry_after_seconds: u64 },
    /// The mail server could not be reached, or refused the message: nothing was
    /// sent (the cause is logged where the send failed).
    #[error("the mail could not be sent: the mail server did not take it; try again later")]
    MailNotSent,
    /// Anything the caller cannot fix: logged with its cause, answered opaquely.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldViolation {
            field: field.to_owned(),
            reason: reason.into(),
        }])
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate(Unique::UserEmail) => ServiceError::Conflict {
                field: "email",
                message: "a user with this email already exists in the tenant".into(),
            },
            StoreError::Duplicate(Unique::UserName) => ServiceError::Conflict {
                field: "userName",
                message: "a user with this userName (or this email as its userName) already \
                          exists in the tenant"
                    .into(),
            },
            StoreError::Duplicate(Unique::GroupName) => ServiceError::Conflict {
                field: "name",
                message: "a group with this name already exists in the tenant".into(),
            },
            StoreError::Duplicate(Unique::AttributeName) => ServiceError::Conflict {
                field: "name",
                message: "an attribute with this name (in any letter case) is already declared \
                          in the tenant"
                    .into(),
            },
            StoreError::Duplicate(Unique::AttributeValue) => ServiceError::Conflict {
                field: "attributes",
                message: "another user of the tenant holds this value of a unique attribute".into(),
            },
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the database is unavailable");
                ServiceError::Unavailable {
                    retry_after_seconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
                }
            }
            StoreError::Contention(cause) => {
                // Memberships and other multi-row writes lock in one order, so this
                // is rare; the caller may simply try again.
                tracing::warn!(error = %cause, "a transaction lost a race with concurrent ones");
                ServiceError::Unavailable {
                    retry_after_seconds: CONTENTION_RETRY_AFTER_SECONDS,
                }
            }
            other => ServiceError::Internal(other.into()),
        }
    }
}

/// What a caller is told to wait before retrying while the database is unreachable.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

/// What a caller is told to wait before retrying a write the database gave up
/// because of concurrent ones.
pub const CONTENTION_RETRY_AFTER_SECONDS: u64 = 1;

/// How many times in all a write is tried while the database gives it up because of
/// concurrent transactions.
pub const CONTENTION_ATTEMPTS: u32 = 3;

/// How one try of a write ended when it did not succeed: for good, or given up by
/// the database because of concurrent transactions (worth another try).
#[derive(Debug)]
enum Attempt {
    Contended(StoreError),
    Failed(ServiceError),
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        match error {
            contended @ StoreError::Contention(_) => Attempt::Contended(contended),
            other => Attempt::Failed(other.into()),
        }
    }
}

impl Attempt {
    /// The error of a try that is not tried again.
    fn into_error(self) -> ServiceError {
        match self {
            Attempt::Contended(error) => error.into(),
            Attempt::Failed(error) => error,
        }
    }
}

impl From<ServiceError> for Attempt {
    fn from(error: ServiceError) -> Self {
        Attempt::Failed(error)
    }
}

/// Runs a write transaction again, [`CONTENTION_ATTEMPTS`] times in all, while the
/// database gives it up because of concurrent ones (a deadlock or a serialization
/// failure on PostgreSQL); the last such failure is answered as
/// [`ServiceError::Unavailable`]. Each try starts a transaction of its own, so a
/// given-up try has written nothing.
async fn retry_contended<T, F, Fut>(mut attempt: F) -> ServiceResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Attempt>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Attempt::Failed(error)) => return Err(error),
            Err(Attempt::Contended(error)) if tries >= CONTENTION_ATTEMPTS => {
                return Err(error.into());
            }
            Err(Attempt::Contended(error)) => {
                tracing::debug!(%error, tries, "trying a contended write again");
            }
        }
    }
}

impl From<crate::auth::PasswordError> for ServiceError {
    fn from(error: crate::auth::PasswordError) -> Self {
        ServiceError::Internal(error.into())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// What the caller names in If-Match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No If-Match: the change applies to whatever is current.
    #[default]
    None,
    /// `If-Match: *`: the object must exist.
    Exists,
    /// The object's version must be one of these (an empty list never matches).
    Versions(Vec<i64>),
}

impl Precondition {
    fn check(&self, current: i64) -> ServiceResult<()> {
        match self {
            Precondition::Versions(versions) if !versions.contains(&current) => {
                Err(ServiceError::PreconditionFailed)
            }
            _ => Ok(()),
        }
    }
}

/// Checks that a write to a row read under lock in the same transaction applied.
fn applied(written: bool) -> ServiceResult<()> {
    if written {
        Ok(())
    } else {
        Err(ServiceError::Internal(anyhow::anyhow!(
            "a row locked for writing changed before the write"
        )))
    }
}

/// What a caller needs to do in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    /// What only administrators see or manage (the audit log, webhooks).
    Administer,
}

/// The directory: cheap to clone, shared by every face.
#[derive(Clone)]
pub struct Directory {
    store: Store,
    passwords: PasswordHasher,
    password_policy: crate::domain::PasswordPolicy,
    pub(crate) sign_in: SignInPolicy,
    sessions: sessions::SessionPolicy,
    /// `None`: no mail is sent, and links are answered to administrators instead.
    mailer: Option<Mailer>,
    /// What links to the console start with.
    public_url: PublicUrl,
    /// API keys, their access tokens and the operator credential verified lately.
    verified: verified::VerifiedCredentials,
    /// How sign-ins ended, for the metrics.
    sign_ins: sign_in_outcomes::SignInCounts,
    /// Creates of users waiting to be written together.
    creates: creates::Creates,
    /// The tenants' declared attributes as reads show them, read lately.
    declared: recent::Recent<TenantId, std::sync::Arc<Vec<crate::domain::AttributeDefinition>>>,
}

impl Directory {
    pub fn new(store: Store, passwords: PasswordHasher) -> Self {
        Self {
            store,
            passwords,
            password_policy: crate::domain::PasswordPolicy::default(),
            sign_in: SignInPolicy::default(),
            sessions: sessions::SessionPolicy::default(),
            mailer: None,
            public_url: PublicUrl::of_listener(std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
            verified: Default::default(),
            sign_ins: sign_in_outcomes::SignInCounts::default(),
            creates: creates::Creates::default(),
            declared: Default::default(),
        }
    }

    /// Registers in `registry` the metrics of the directory's sign-ins, of its
    /// password hashing threads and of its store's connection pools.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.sign_ins.register(registry);
        self.passwords.register_metrics(registry);
        self.store.register_metrics(registry);
    }

    /// The same directory mailing invitations and password resets through `mailer`.
    pub fn with_mailer(self, mailer: Mailer) -> Self {
        Self {
            mailer: Some(mailer),
            ..self
        }
    }

    /// The same directory making links that start with `url`.
    pub fn with_public_url(self, url: PublicUrl) -> Self {
        Self {
            public_url: url,
            ..self
        }
    }

    /// Whether invitations and password resets go out by mail; if not, an
    /// administrator is answered the link to hand over.
    pub fn mail_configured(&self) -> bool {
        self.mailer.is_some()
    }

    /// The same directory holding new passwords to `policy`.
    pub fn with_password_policy(self, policy: crate::domain::PasswordPolicy) -> Self {
        Self {
            password_policy: policy,
            ..self
        }
    }

    /// What a new password must be: every face parses new passwords with this.
    pub fn password_policy(&self) -> &crate::domain::PasswordPolicy {
        &self.password_policy
    }

    /// A page of the tenant's audit log, oldest first (operator and admins only).
    pub async fn list_audit_events(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: &crate::store::AuditFilter,
        page: crate::domain::PageRequest,
    ) -> ServiceResult<crate::domain::Page<AuditEvent>> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let rows = self.store.list_audit_events(tenant, filter, page).await?;
        Ok(crate::domain::Page::from_rows(rows, page.limit, |e| {
            e.id.as_uuid()
        }))
    }

    /// The same directory under other sign-in rules.
    pub fn with_sign_in_policy(self, sign_in: SignInPolicy) -> Self {
        Self { sign_in, ..self }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks that the caller may act in `tenant`; another tenant's caller is told the
    /// tenant does not exist, and so is the operator when it does not.
    async fn authorize(
        &self,
        caller: &Caller,
        tenant: TenantId,
        access: Access,
    ) -> ServiceResult<()> {
        match caller.principal {
            Principal::Operator | Principal::Cli => {
                if self.store.get_tenant(tenant).await?.is_none() {
                    return Err(ServiceError::NotFound(Resource::Tenant));
                }
                Ok(())
            }
            Principal::ApiKey {
                tenant_id, role, ..
            } => {
                if tenant_id != tenant {
                    return Err(ServiceError::NotFound(Resource::Tenant));
                }
                if access != Access::Read && role != crate::domain::ApiKeyRole::Admin {
                    return Err(ServiceError::Forbidden(match access {
                        Access::Administer => "the audit log and webhooks need an admin key",
                        _ => "a reader key cannot make changes",
                    }));
                }
                Ok(())
            }
            Principal::User {
                tenant_id, role, ..
            } => {
                if tenant_id != tenant {
                    return Err(ServiceError::NotFound(Resource::Tenant));
                }
                if access != Access::Read && role != crate::domain::Role::Admin {
                    return Err(ServiceError::Forbidden(match access {
                        Access::Administer => "the audit log and webhooks need an admin",
                        _ => "a member reads the directory and cannot change it",
                    }));
                }
                Ok(())
            }
        }
    }

    fn require_operator(caller: &Caller) -> ServiceResult<()> {
        if caller.principal.is_operator() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only the operator credential manages tenants",
            ))
        }
    }
}

/// Records `action` on a target in the transaction that makes the change.
async fn audit(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    action: Action,
    target: (TargetKind, String),
    details: serde_json::Value,
) -> ServiceResult<()> {
    audit_as(
        tx,
        caller.principal.actor(),
        &caller.client,
        tenant,
        action,
        target,
        details,
    )
    .await
}

/// Records `action` by `actor`, for what happens before anyone is authenticated.
async fn audit_as(
    tx: &mut Tx,
    actor: Actor,
    client: &ClientInfo,
    tenant: TenantId,
    action: Action,
    target: (TargetKind, String),
    details: serde_json::Value,
) -> ServiceResult<()> {
    let event = audit_event(actor, client, tenant, action, target, details);
    tx.insert_audit_event(&event).await?;
    Ok(())
}

/// The record of `action` by `actor`, happening now.
fn audit_event(
    actor: Actor,
    client: &ClientInfo,
    tenant: TenantId,
    action: Action,
    target: (TargetKind, String),
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::generate(),
        tenant_id: tenant,
        occurred_at: Timestamp::now(),
        actor,
        action,
        target_kind: target.0,
        target_id: target.1,
        client: client.clone(),
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contended() -> Attempt {
        Attempt::Contended(StoreError::Contention(sqlx::Error::PoolTimedOut))
    }

    #[tokio::test]
    async fn a_contended_write_is_tried_again_a_bounded_number_of_times() {
        let mut tries = 0;
        let result = retry_contended(|| {
            tries += 1;
            let outcome = if tries < CONTENTION_ATTEMPTS {
                Err(contended())
            } else {
                Ok(tries)
            };
            async move { outcome }
        })
        .await;
        assert_eq!(result.unwrap(), CONTENTION_ATTEMPTS);

        let mut tries = 0;
        let result: ServiceResult<()> = retry_contended(|| {
            tries += 1;
            async { Err(contended()) }
        })
        .await;
        assert_eq!(tries, CONTENTION_ATTEMPTS);
        assert!(matches!(
            result,
            Err(ServiceError::Unavailable {
                retry_after_seconds: CONTENTION_RETRY_AFTER_SECONDS
            })
        ));
    }

    #[tokio::test]
    async fn other_failures_are_not_tried_again() {
        let mut tries = 0;
        let result: ServiceResult<()> = retry_contended(|| {
            tries += 1;
            async { Err(Attempt::Failed(ServiceError::NotFound(Resource::User))) }
        })
        .await;
        assert_eq!(tries, 1);
        assert!(matches!(
            result,
            Err(ServiceError::NotFound(Resource::User))
        ));
    }
}
