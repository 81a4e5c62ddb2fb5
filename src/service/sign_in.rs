//! Signing in with an email and a password: throttled in the database per account
//! and client address, per account across all addresses (a much higher ceiling) and
//! per client address; timed alike for unknown addresses and wrong passwords;
//! recorded in the login metadata and the audit log.
//!
//! Failures lock an account only for the address they come from, so that a stranger
//! guessing passwords cannot lock its owner out from elsewhere (Keycloak's and
//! Okta's detectors do the same). A guesser that spreads over many addresses still
//! meets the account-wide ceiling, [`SignInPolicy::max_account_failures`] (ten
//! times the per-address threshold by default).

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{Caller, Principal, generate_user_token, sha256};
use crate::domain::{
    Action, Actor, ClientInfo, NewPassword, Status, TargetKind, TenantId, Timestamp, User, UserId,
    fold_case,
};
use crate::store::{ThrottleRule, ThrottleState};

use super::changes::{user_touched, user_updated};
use super::sign_in_outcomes::{SignInKind, SignInOutcome};
use super::two_factor::SecondFactor;
use super::{Directory, ServiceError, ServiceResult, audit, audit_as};

/// The rules of signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// Failed sign-ins of one account from one client address within
    /// `failure_window_seconds` that lock the account for that address (default 5).
    pub max_failures: i64,
    /// Failed sign-ins of one account from all client addresses together within
    /// `failure_window_seconds` that lock it for everyone (default 50, ten times
    /// `max_failures`): high enough that a stranger cannot reach it by accident, low
    /// enough that a guesser spread over many addresses is stopped.
    pub max_account_failures: i64,
    pub failure_window_seconds: i64,
    /// How long a locked account stays locked.
    pub lockout_seconds: i64,
    /// Sign-in attempts from one client address within `address_window_seconds`
    /// before it must wait for the window to end.
    pub max_attempts_per_address: i64,
    pub address_window_seconds: i64,
    /// How long a signed-in user's token lives.
    pub token_ttl_seconds: i64,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_account_failures: 50,
            failure_window_seconds: 15 * 60,
            lockout_seconds: 15 * 60,
            max_attempts_per_address: 100,
            address_window_seconds: 15 * 60,
            token_ttl_seconds: 60 * 60,
        }
    }
}

/// A successful sign-in: the user and its token, shown in this reply only.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    /// The attributes the user's tenant declares, to show the user with.
    pub declared: Vec<crate::domain::AttributeDefinition>,
    pub token: SecretString,
    pub expires_in_seconds: i64,
    pub expires_at: Timestamp,
}

/// The counter of an account's failures from every address.
fn account_subject(email_key: &str) -> String {
    format!("email:{email_key}")
}

/// The counter of an account's failures from one client address (`None`: the
/// address is unknown, and all such attempts count as one address). A stored email
/// has no space, so every pair of an account starts with the account's subject and
/// [`ACCOUNT_ADDRESS_SEPARATOR`].
fn account_address_subject(email_key: &str, address: Option<&str>) -> String {
    format!(
        "{}{ACCOUNT_ADDRESS_SEPARATOR}{}",
        account_subject(email_key),
        address.unwrap_or("unknown")
    )
}

const ACCOUNT_ADDRESS_SEPARATOR: &str = " from:";

/// Forgets the sign-in failures and locks of the account of `email`, from every
/// client address and account-wide (an unlock; a password reset).
pub(super) async fn clear_account_lockout(
    tx: &mut crate::store::Tx,
    tenant: TenantId,
    email: &str,
) -> ServiceResult<()> {
    let account = account_subject(&fold_case(email));
    tx.clear_failures(tenant, &account).await?;
    tx.clear_failures_with_prefix(tenant, &format!("{account}{ACCOUNT_ADDRESS_SEPARATOR}"))
        .await?;
    Ok(())
}

fn address_subject(address: &str) -> String {
    format!("address:{address}")
}

pub(super) fn retry_after(until: Timestamp, now: Timestamp) -> i64 {
    ((until.millis() - now.millis()) / 1000).max(1)
}

/// The tenant and user of a signed-in user's own credential, or `refusal`.
pub(super) fn own_account(
    caller: &Caller,
    refusal: &'static str,
) -> ServiceResult<(TenantId, UserId)> {
    match caller.principal {
        Principal::User {
            tenant_id, user_id, ..
        } => Ok((tenant_id, user_id)),
        _ => Err(ServiceError::Forbidden(refusal)),
    }
}

/// A sign-in that failed, as it is recorded.
struct FailedSignIn<'a> {
    account: &'a str,
    /// The account's counter for the client address the attempt came from.
    account_from_address: &'a str,
    address: Option<&'a str>,
    user: Option<UserId>,
    /// The audit target: the user's id, or the folded email given.
    target: String,
    reason: &'static str,
}

/// What the first step of a sign-in established: the right password of a user who
/// may sign in, and where its second factor stands.
pub(super) struct CheckedSignIn {
    pub(super) user: User,
    pub(super) factor: FactorCheck,
    /// The new hash of the password, when its stored one used older parameters.
    rehash: Option<String>,
    /// The account's failure counter for the client's address.
    account_from_address: String,
    address: Option<String>,
}

/// Where a sign-in's second factor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FactorCheck {
    /// The user has no second factor.
    NotEnrolled,
    /// Given with the password, and accepted.
    Accepted(SecondFactor),
    /// Enrolled but not given: the console asks for it next.
    Pending,
}

impl Directory {
    /// Signs a user in. An unknown address, an address without a password and a
    /// wrong password all answer [`ServiceError::Unauthorized`], after the same work.
    /// A disabled or pending user who gives the right password is told why it may not
    /// sign in; a locked account and a throttled client address are told to wait. A
    /// user with two-factor sign-in on must also give `second_factor` (a TOTP code or
    /// a recovery code); a wrong one counts as a failed sign-in.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn login(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        second_factor: Option<&str>,
        client: ClientInfo,
    ) -> ServiceResult<SignedIn> {
        let signed_in = self
            .issue_user_token(tenant, email, password, second_factor, client)
            .await;
        self.sign_ins
            .count(SignInKind::Token, SignInOutcome::of(&signed_in));
        signed_in
    }

    /// [`Directory::login`]'s work, whose outcome it counts.
    async fn issue_user_token(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        second_factor: Option<&str>,
        client: ClientInfo,
    ) -> ServiceResult<SignedIn> {
        let now = Timestamp::now();
        let checked = self
            .check_sign_in(tenant, email, password, second_factor, false, &client, now)
            .await?;
        let token = generate_user_token(tenant);
        let expires_at = now.plus_seconds(self.sign_in.token_ttl_seconds);
        let mut tx = self.store.begin().await?;
        let user = self
            .finish_sign_in(&mut tx, tenant, checked, &client, now)
            .await?;
        tx.insert_user_token(tenant, user.id, &sha256(&token), expires_at, now)
            .await?;
        tx.commit().await?;
        let declared = self.store.list_attributes(tenant).await?;
        Ok(SignedIn {
            user,
            declared,
            token: SecretString::from(token),
            expires_in_seconds: self.sign_in.token_ttl_seconds,
            expires_at,
        })
    }

    /// The checks of a sign-in's first step, each failure recorded as `login`
    /// describes. With `defer_second_factor`, a user whose second factor is enrolled
    /// but not given passes with [`FactorCheck::Pending`] instead of being refused.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_sign_in(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        second_factor: Option<&str>,
        defer_second_factor: bool,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<CheckedSignIn> {
        if self.store.get_tenant(tenant).await?.is_none() {
            // Nothing to count failures against; spend the same time regardless.
            self.passwords.verify(password, None).await?;
            return Err(ServiceError::Unauthorized);
        }
        // What cannot be an email names no account (and a NUL byte, which PostgreSQL
        // refuses in text, must not reach the store): the same work, the same answer.
        if crate::domain::Email::parse(email.trim()).is_err() {
            self.passwords.verify(password, None).await?;
            return Err(ServiceError::Unauthorized);
        }
        let email_key = fold_case(email.trim());
        let account = account_subject(&email_key);
        let account_from_address = account_address_subject(&email_key, client.address.as_deref());
        let address = client.address.as_deref().map(address_subject);
        let mut subjects = vec![account.as_str(), account_from_address.as_str()];
        subjects.extend(address.as_deref());
        let locked = self.store.locked_subjects(tenant, &subjects, now).await?;
        if let Some((subject, until)) = locked.into_iter().max_by_key(|(_, until)| *until) {
            let retry_after_seconds = retry_after(until, now);
            return Err(if Some(&subject) == address.as_ref() {
                ServiceError::TooManyAttempts {
                    retry_after_seconds,
                }
            } else {
                ServiceError::Locked {
                    retry_after_seconds,
                }
            });
        }
        let found = self.store.find_sign_in(tenant, &email_key).await?;
        let stored = found.as_ref().and_then(|(_, hash)| hash.as_deref());
        let verification = self.passwords.verify(password, stored).await?;
        let user_id = found.as_ref().map(|(user, _)| user.id);

        if !verification.matches {
            let target = user_id.map_or_else(|| email_key.clone(), |id| id.to_string());
            let failure = FailedSignIn {
                account: &account,
                account_from_address: &account_from_address,
                address: address.as_deref(),
                user: user_id,
                target,
                reason: "invalid credentials",
            };
            self.record_failed_sign_in(tenant, failure, client, now)
                .await?;
            return Err(ServiceError::Unauthorized);
        }

        let Some((user, _)) = found else {
            return Err(ServiceError::Unauthorized);
        };
        let refusal = match user.status {
            Status::Active => None,
            Status::Disabled => Some("this account is disabled"),
            Status::Pending => Some("this account has not been activated yet"),
        };
        if let Some(reason) = refusal {
            let details = json!({ "outcome": "refused", "reason": reason });
            self.record_unfinished_sign_in(
                tenant,
                address.as_deref(),
                user.id,
                client,
                details,
                now,
            )
            .await?;
            return Err(ServiceError::Forbidden(reason));
        }

        let factor = match (user.two_factor_enabled, second_factor) {
            (false, _) => FactorCheck::NotEnrolled,
            (true, None) => {
                let details =
                    json!({ "outcome": "incomplete", "reason": "two-factor code required" });
                self.record_unfinished_sign_in(
                    tenant,
                    address.as_deref(),
                    user.id,
                    client,
                    details,
                    now,
                )
                .await?;
                if !defer_second_factor {
                    return Err(ServiceError::TwoFactorRequired);
                }
                FactorCheck::Pending
            }
            (true, Some(code)) => match self.accept_second_factor(tenant, user.id, code).await? {
                Some(factor) => FactorCheck::Accepted(factor),
                None => {
                    let failure = FailedSignIn {
                        account: &account,
                        account_from_address: &account_from_address,
                        address: address.as_deref(),
                        user: Some(user.id),
                        target: user.id.to_string(),
                        reason: "invalid two-factor code",
                    };
                    self.record_failed_sign_in(tenant, failure, client, now)
                        .await?;
                    return Err(ServiceError::TwoFactorRejected);
                }
            },
        };

        let rehash = if verification.needs_rehash {
            let password = NewPassword::verified(password);
            Some(self.passwords.hash(&password).await?)
        } else {
            None
        };
        Ok(CheckedSignIn {
            user,
            factor,
            rehash,
            account_from_address,
            address,
        })
    }

    /// Records a finished sign-in in `tx` (the caller then issues its credential in
    /// the same transaction): the attempt, this address's failures forgotten, the
    /// login metadata, the password's new hash and the audit event.
    pub(super) async fn finish_sign_in(
        &self,
        tx: &mut crate::store::Tx,
        tenant: TenantId,
        checked: CheckedSignIn,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<User> {
        self.count_attempt(tx, tenant, checked.address.as_deref(), now)
            .await?;
        // Only this address's failures are forgotten: the account-wide count runs out
        // with its window, so that its owner signing in gives a guesser no fresh tries.
        tx.clear_failures(tenant, &checked.account_from_address)
            .await?;
        let user = checked.user;
        tx.record_successful_login(tenant, user.id, now).await?;
        if let Some(hash) = &checked.rehash {
            tx.replace_password_hash(tenant, user.id, hash).await?;
        }
        let factor = match checked.factor {
            FactorCheck::Accepted(factor) => Some(factor.as_str()),
            FactorCheck::NotEnrolled | FactorCheck::Pending => None,
        };
        audit_as(
            tx,
            Actor::User(user.id),
            client,
            tenant,
            Action::Login,
            (TargetKind::User, user.id.to_string()),
            json!({
                "outcome": "success",
                "rehashed": checked.rehash.is_some(),
                "secondFactor": factor,
            }),
        )
        .await?;
        Ok(user)
    }

    /// Checks the second factor of a sign-in whose password was right: a wrong code
    /// counts as a failed sign-in of the user's account, and a locked account is
    /// refused before the code is looked at. Answers the checked sign-in, ready for
    /// [`Directory::finish_sign_in`].
    pub(super) async fn check_second_factor(
        &self,
        tenant: TenantId,
        user: User,
        code: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<CheckedSignIn> {
        let email_key = fold_case(&user.email);
        let account = account_subject(&email_key);
        let account_from_address = account_address_subject(&email_key, client.address.as_deref());
        let address = client.address.as_deref().map(address_subject);
        self.refuse_if_locked(tenant, &user.email, client).await?;
        let Some(factor) = self.accept_second_factor(tenant, user.id, code).await? else {
            let failure = FailedSignIn {
                account: &account,
                account_from_address: &account_from_address,
                address: address.as_deref(),
                user: Some(user.id),
                target: user.id.to_string(),
                reason: "invalid two-factor code",
            };
            self.record_failed_sign_in(tenant, failure, client, now)
                .await?;
            return Err(ServiceError::TwoFactorRejected);
        };
        Ok(CheckedSignIn {
            user,
            factor: FactorCheck::Accepted(factor),
            rehash: None,
            account_from_address,
            address,
        })
    }

    /// Stores the password's new hash of a sign-in that stops before its second
    /// factor, so that the step after it has nothing of the password left to do.
    pub(super) async fn keep_rehash(
        &self,
        tx: &mut crate::store::Tx,
        tenant: TenantId,
        checked: &mut CheckedSignIn,
    ) -> ServiceResult<()> {
        if let Some(hash) = checked.rehash.take() {
            tx.replace_password_hash(tenant, checked.user.id, &hash)
                .await?;
        }
        Ok(())
    }

    /// Records a failed sign-in in one transaction: the attempt from the client
    /// address, one more failure of the account from that address and one more of
    /// the account from anywhere (either may lock it), the user's login metadata and
    /// the audit event. The same statements run whether or not
    /// the user exists (a nil id matches nothing), so both paths take the same time.
    async fn record_failed_sign_in(
        &self,
        tenant: TenantId,
        failure: FailedSignIn<'_>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        self.count_attempt(&mut tx, tenant, failure.address, now)
            .await?;
        let state = self
            .count_account_failures(
                &mut tx,
                tenant,
                failure.account,
                failure.account_from_address,
                now,
            )
            .await?;
        let user = failure.user.unwrap_or(UserId::from_uuid(Uuid::nil()));
        tx.record_failed_login(tenant, user, now).await?;
        audit_as(
            &mut tx,
            failure.user.map_or(Actor::Anonymous, Actor::User),
            client,
            tenant,
            Action::Login,
            (TargetKind::User, failure.target),
            json!({
                "outcome": "failure",
                "reason": failure.reason,
                "locked": state.locked_until.is_some(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a sign-in with the right password that did not end in a token (the
    /// user may not sign in, or must give a second factor): the attempt from the
    /// client address and the audit event, but no failure of the account.
    async fn record_unfinished_sign_in(
        &self,
        tenant: TenantId,
        address: Option<&str>,
        user: UserId,
        client: &ClientInfo,
        details: serde_json::Value,
        now: Timestamp,
    ) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        self.count_attempt(&mut tx, tenant, address, now).await?;
        audit_as(
            &mut tx,
            Actor::User(user),
            client,
            tenant,
            Action::Login,
            (TargetKind::User, user.to_string()),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts one failure of the account from its client address and one from
    /// anywhere; answers the state that locks first (or the per-address one).
    async fn count_account_failures(
        &self,
        tx: &mut crate::store::Tx,
        tenant: TenantId,
        account: &str,
        account_from_address: &str,
        now: Timestamp,
    ) -> ServiceResult<ThrottleState> {
        let rule = |max_failures| ThrottleRule {
            max_failures,
            window_seconds: self.sign_in.failure_window_seconds,
            lock_seconds: self.sign_in.lockout_seconds,
        };
        let from_address = tx
            .count_failure(
                tenant,
                account_from_address,
                rule(self.sign_in.max_failures),
                now,
            )
            .await?;
        let everywhere = tx
            .count_failure(
                tenant,
                account,
                rule(self.sign_in.max_account_failures),
                now,
            )
            .await?;
        Ok(if everywhere.locked_until.is_some() {
            everywhere
        } else {
            from_address
        })
    }

    /// Counts a failure of a signed-in user's own account (a wrong current password
    /// or two-factor code given to change its credentials), from the caller's
    /// address and account-wide, as a failed sign-in is.
    pub(super) async fn count_account_failure(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let now = Timestamp::now();
        let email_key = fold_case(email);
        let mut tx = self.store.begin().await?;
        self.count_account_failures(
            &mut tx,
            tenant,
            &account_subject(&email_key),
            &account_address_subject(&email_key, client.address.as_deref()),
            now,
        )
        .await?;
        tx.record_failed_login(tenant, user, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses with [`ServiceError::Locked`] while the account of `email` is locked
    /// for the client's address or for everyone.
    pub(super) async fn refuse_if_locked(
        &self,
        tenant: TenantId,
        email: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let email_key = fold_case(email);
        let account = account_subject(&email_key);
        let account_from_address = account_address_subject(&email_key, client.address.as_deref());
        let now = Timestamp::now();
        match self
            .store
            .locked_subjects(
                tenant,
                &[account.as_str(), account_from_address.as_str()],
                now,
            )
            .await?
            .into_iter()
            .max_by_key(|(_, until)| *until)
        {
            Some((_, until)) => Err(ServiceError::Locked {
                retry_after_seconds: retry_after(until, now),
            }),
            None => Ok(()),
        }
    }

    /// Checks the password a signed-in user gives to change its own credentials;
    /// a wrong one counts as a failed sign-in. Answers the user.
    pub(super) async fn verify_own_password(
        &self,
        tenant: TenantId,
        user_id: UserId,
        field: &str,
        password: &str,
        client: &ClientInfo,
    ) -> ServiceResult<User> {
        let (user, stored) = self
            .store
            .find_user_with_password(tenant, user_id)
            .await?
            .ok_or(ServiceError::NotFound(super::Resource::User))?;
        self.refuse_if_locked(tenant, &user.email, client).await?;
        if !self
            .passwords
            .verify(password, stored.as_deref())
            .await?
            .matches
        {
            self.count_account_failure(tenant, user_id, &user.email, client)
                .await?;
            return Err(ServiceError::invalid(
                field,
                "is not the user's current password",
            ));
        }
        Ok(user)
    }

    /// Counts a sign-in attempt from a client address, in the transaction that
    /// records the attempt's outcome.
    async fn count_attempt(
        &self,
        tx: &mut crate::store::Tx,
        tenant: TenantId,
        address: Option<&str>,
        now: Timestamp,
    ) -> ServiceResult<()> {
        if let Some(address) = address {
            let rule = ThrottleRule {
                max_failures: self.sign_in.max_attempts_per_address,
                window_seconds: self.sign_in.address_window_seconds,
                lock_seconds: self.sign_in.address_window_seconds,
            };
            tx.count_failure(tenant, address, rule, now).await?;
        }
        Ok(())
    }

    /// Ends the caller's own sign-in: the token it presents stops working.
    pub async fn logout(&self, caller: &Caller, token: &str) -> ServiceResult<()> {
        let (tenant_id, user_id) = own_account(caller, "only a signed-in user signs out")?;
        let crate::auth::PresentedToken::UserToken { hash, .. } =
            crate::auth::PresentedToken::parse(token)
        else {
            return Err(ServiceError::Forbidden(
                "only a signed-in user's token signs out",
            ));
        };
        let mut tx = self.store.begin().await?;
        if tx
            .revoke_user_token(tenant_id, &hash, Timestamp::now())
            .await?
        {
            audit(
                &mut tx,
                caller,
                tenant_id,
                Action::Logout,
                (TargetKind::User, user_id.to_string()),
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Directory {
    /// Lifts a lock on the user's account (an administrator's unlock).
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn unlock_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, super::Access::Write).await?;
        let found = self.find_user(tenant, user).await?;
        let mut tx = self.store.begin().await?;
        clear_account_lockout(&mut tx, tenant, &found.email).await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserUnlock,
            (TargetKind::User, user.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the signed-in user's own password; the current one must be given, and
    /// a wrong one counts as a failed sign-in.
    pub async fn change_own_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &NewPassword,
    ) -> ServiceResult<()> {
        let (tenant_id, user_id) =
            own_account(caller, "only a signed-in user changes its own password")?;
        self.verify_own_password(
            tenant_id,
            user_id,
            "currentPassword",
            current,
            &caller.client,
        )
        .await?;
        let now = Timestamp::now();
        let hash = self.passwords.hash(new).await?;
        let mut tx = self.store.begin().await?;
        tx.set_password_hash(tenant_id, user_id, &hash, now).await?;
        // A change of the user: its version and updatedAt move.
        let version = tx.touch_user(tenant_id, user_id, now).await?;
        tx.record_changes(user_touched(
            caller,
            tenant_id,
            user_id,
            version,
            &["password"],
        ));
        audit(
            &mut tx,
            caller,
            tenant_id,
            Action::UserPasswordSet,
            (TargetKind::User, user_id.to_string()),
            json!({ "selfService": true }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The hash of a one-time link's token (parsed by its kind's `parse_…`) when it
/// names `tenant`; anything else is [`ServiceError::Unauthorized`].
pub(super) fn token_of_tenant(
    parsed: Option<(TenantId, Vec<u8>)>,
    tenant: TenantId,
) -> ServiceResult<Vec<u8>> {
    match parsed {
        Some((token_tenant, hash)) if token_tenant == tenant => Ok(hash),
        _ => Err(ServiceError::Unauthorized),
    }
}

/// The user a one-time link's token was taken for (`taken`: its user and expiry),
/// locked in `tx`, when the token had not expired and the user's status is
/// `status`; anything else is [`ServiceError::Unauthorized`].
pub(super) async fn user_of_link(
    tx: &mut crate::store::Tx,
    tenant: TenantId,
    taken: Option<(UserId, Timestamp)>,
    status: Status,
    now: Timestamp,
) -> ServiceResult<User> {
    let (user_id, _) = taken
        .filter(|(_, expires_at)| now < *expires_at)
        .ok_or(ServiceError::Unauthorized)?;
    tx.lock_user(tenant, user_id)
        .await?
        .filter(|user| user.status == status)
        .ok_or(ServiceError::Unauthorized)
}

/// How long an invitation token stays valid.
pub const INVITATION_TTL_SECONDS: i64 = 7 * 24 * 60 * 60;

/// An invitation just made: its token is shown in this reply only.
#[derive(Debug)]
pub struct InvitationToken {
    pub token: SecretString,
    pub expires_at: Timestamp,
}

impl Directory {
    /// A one-time token with which a pending user sets its first password (an
    /// administrator hands it over). A new one replaces the user's earlier one.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn invite(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<InvitationToken> {
        self.authorize(caller, tenant, super::Access::Write).await?;
        let found = self.find_user(tenant, user).await?;
        if found.status != Status::Pending {
            return Err(ServiceError::invalid(
                "status",
                "only a pending user is invited; this one is not pending",
            ));
        }
        let now = Timestamp::now();
        let expires_at = now.plus_seconds(INVITATION_TTL_SECONDS);
        let token = crate::auth::generate_invitation(tenant);
        let mut tx = self.store.begin().await?;
        tx.replace_invitation(tenant, user, &sha256(&token), expires_at, now)
            .await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserInvite,
            (TargetKind::User, user.to_string()),
            json!({ "expiresAt": expires_at }),
        )
        .await?;
        tx.commit().await?;
        Ok(InvitationToken {
            token: SecretString::from(token),
            expires_at,
        })
    }

    /// Sets a pending user's first password with its invitation token, once, and
    /// makes the user active. A token that is unknown, used, expired or another
    /// tenant's is [`ServiceError::Unauthorized`].
    pub async fn accept_invitation(
        &self,
        tenant: TenantId,
        token: &str,
        password: &NewPassword,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        let hash = token_of_tenant(crate::auth::parse_invitation(token), tenant)?;
        let password_hash = self.passwords.hash(password).await?;
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let taken = tx.take_invitation(tenant, &hash).await?;
        let current = user_of_link(&mut tx, tenant, taken, Status::Pending, now).await?;
        let user_id = current.id;
        tx.set_password_hash(tenant, user_id, &password_hash, now)
            .await?;
        let next = User {
            status: Status::Active,
            version: current.version + 1,
            updated_at: now,
            ..current.clone()
        };
        super::applied(tx.update_user(&next, current.version).await?)?;
        audit_as(
            &mut tx,
            Actor::User(user_id),
            &client,
            tenant,
            Action::InvitationAccept,
            (TargetKind::User, user_id.to_string()),
            json!({}),
        )
        .await?;
        let mut next = next;
        next.has_password = true;
        next.login.password_changed_at = Some(now);
        tx.record_changes([user_updated(Actor::User(user_id), &current, &next)]);
        tx.commit().await?;
        Ok(())
    }
}
