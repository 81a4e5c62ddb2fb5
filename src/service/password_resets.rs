//! Password resets, and links that reach their users by mail.
//!
//! A reset token is single-use, lives [`PASSWORD_RESET_TTL_SECONDS`], names its
//! tenant and is stored only as its SHA-256; a new one replaces the user's earlier
//! one. Anyone may ask for one by email address: the answer and the work are the
//! same whether or not the address is a user's, and the mail goes out after the
//! answer, so that its time tells nothing either. An administrator may have one sent
//! (or, without mail, handed over as a link), and the same for an invitation.
//!
//! A mail is sent after the transaction that made its token has committed: no
//! transaction waits on the mail server.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::{Caller, generate_password_reset, parse_password_reset, sha256};
use crate::domain::{
    Action, Actor, ClientInfo, Email, NewPassword, Status, TargetKind, Tenant, TenantId, Timestamp,
    User, UserId, fold_case,
};
use crate::mail::letters::{self, LinkLetter};
use crate::mail::{Letter, Mailer};
use crate::store::ThrottleRule;

use super::changes::user_updated;
use super::sign_in::{
    INVITATION_TTL_SECONDS, clear_account_lockout, retry_after, token_of_tenant, user_of_link,
};
use super::{Access, Directory, Resource, ServiceError, ServiceResult, applied, audit, audit_as};

/// How long a password-reset token stays valid.
pub const PASSWORD_RESET_TTL_SECONDS: i64 = 60 * 60;

/// How a link reached (or is to reach) its user.
#[derive(Debug)]
pub enum Delivery {
    /// The link was mailed to this address (the server took the message).
    Mailed { to: String },
    /// No mail is configured: the link, for the administrator to hand over. Shown
    /// in this answer only.
    Link {
        url: SecretString,
        expires_at: Timestamp,
    },
}

impl Delivery {
    /// The token inside a [`Delivery::Link`], for a program that hands the token
    /// over itself rather than the link.
    pub fn link_token(&self) -> Option<SecretString> {
        let Delivery::Link { url, .. } = self else {
            return None;
        };
        let url = url::Url::parse(url.expose_secret()).ok()?;
        url.query_pairs()
            .find(|(name, _)| name == "token")
            .map(|(_, token)| SecretString::from(token.into_owned()))
    }
}

/// The counter of password-reset requests for one email address (known or not),
/// apart from the sign-in counters.
fn reset_account_subject(email_key: &str) -> String {
    format!("reset-email:{email_key}")
}

/// The counter of password-reset requests from one client address.
fn reset_address_subject(address: &str) -> String {
    format!("reset-address:{address}")
}

/// The console page a reset link opens.
fn reset_path(tenant: TenantId) -> String {
    format!("/ui/t/{tenant}/reset-password")
}

/// The console page an invitation link opens.
fn invitation_path(tenant: TenantId) -> String {
    format!("/ui/t/{tenant}/accept-invitation")
}

/// Which message a link goes out in.
#[derive(Debug, Clone, Copy)]
enum LinkKind {
    PasswordReset,
    Invitation,
}

impl Directory {
    /// Anyone: asks for a reset link for `email`. The same answer and the same work
    /// whether or not the address is a user's (what is not an email at all is
    /// answered alike, with nothing counted): the request is counted and audited,
    /// and a token is written only for an active user (the same statement runs, and
    /// changes nothing, for anyone else); the mail goes out after the answer. Nothing
    /// is sent when mail is not configured or the user is not active. Throttled per
    /// email address (locked as an account is: [`ServiceError::Locked`]) and per
    /// client address ([`ServiceError::TooManyAttempts`]), on counters of their own.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn request_password_reset(
        &self,
        tenant: TenantId,
        email: &str,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        let now = Timestamp::now();
        let email = email.trim();
        // What cannot be an email names no user (and a NUL byte, which PostgreSQL
        // refuses in text, must not reach the store): answered alike, as sign-in does.
        if Email::parse(email).is_err() {
            return Ok(());
        }
        let Some(tenant_row) = self.store.get_tenant(tenant).await? else {
            // No counters to keep for a tenant that does not exist; nothing to send.
            return Ok(());
        };
        let email_key = fold_case(email);
        let account = reset_account_subject(&email_key);
        let address = client.address.as_deref().map(reset_address_subject);
        let mut subjects = vec![account.as_str()];
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

        let found = self
            .store
            .find_sign_in(tenant, &email_key)
            .await?
            .map(|(user, _)| user);
        let recipient = found
            .as_ref()
            .filter(|user| user.status == Status::Active && self.mailer.is_some());
        let token = generate_password_reset(tenant);
        let expires_at = now.plus_seconds(PASSWORD_RESET_TTL_SECONDS);
        let mut tx = self.store.begin().await?;
        if let Some(address) = &address {
            let rule = ThrottleRule {
                max_failures: self.sign_in.max_attempts_per_address,
                window_seconds: self.sign_in.address_window_seconds,
                lock_seconds: self.sign_in.address_window_seconds,
            };
            tx.count_failure(tenant, address, rule, now).await?;
        }
        let rule = ThrottleRule {
            max_failures: self.sign_in.max_failures,
            window_seconds: self.sign_in.failure_window_seconds,
            lock_seconds: self.sign_in.lockout_seconds,
        };
        tx.count_failure(tenant, &account, rule, now).await?;
        if self.mailer.is_some() {
            // A nil id names no user: the statement runs and writes nothing.
            let user = recipient.map_or(UserId::from_uuid(Uuid::nil()), |user| user.id);
            tx.replace_password_reset(tenant, user, &sha256(&token), expires_at, now)
                .await?;
        }
        let target = found
            .as_ref()
            .map_or_else(|| email_key.clone(), |user| user.id.to_string());
        audit_as(
            &mut tx,
            Actor::Anonymous,
            &client,
            tenant,
            Action::PasswordResetRequest,
            (TargetKind::User, target),
            json!({ "mailed": recipient.is_some() }),
        )
        .await?;
        tx.commit().await?;

        if let (Some(user), Some(mailer)) = (recipient, &self.mailer) {
            let directory = self.clone();
            let mailer = mailer.clone();
            let user = user.clone();
            let url = self.public_url.link(&reset_path(tenant), &token);
            let span =
                tracing::info_span!("password_reset_mail", tenant_id = %tenant, user_id = %user.id);
            // After the answer: the requester learns nothing from how long it takes,
            // and a failure is only logged (telling it would tell who exists).
            tokio::spawn(
                async move {
                    let _ = directory
                        .mail_link(
                            &mailer,
                            LinkKind::PasswordReset,
                            &tenant_row,
                            &user,
                            &url,
                            expires_at,
                        )
                        .await;
                }
                .instrument(span),
            );
        }
        Ok(())
    }

    /// Admin: makes a reset link for an active user, replacing its earlier one, and
    /// mails it when mail is configured ([`Delivery::Mailed`], once the mail server
    /// took it; [`ServiceError::MailNotSent`] when it did not), else answers it
    /// ([`Delivery::Link`]). A user who is not active is [`ServiceError::Invalid`].
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn send_password_reset(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<Delivery> {
        self.authorize(caller, tenant, Access::Write).await?;
        let found = self.find_user(tenant, user).await?;
        if found.status != Status::Active {
            return Err(ServiceError::invalid(
                "status",
                "only an active user's password is reset; this one is not active",
            ));
        }
        let now = Timestamp::now();
        let expires_at = now.plus_seconds(PASSWORD_RESET_TTL_SECONDS);
        let token = generate_password_reset(tenant);
        let mut tx = self.store.begin().await?;
        tx.replace_password_reset(tenant, user, &sha256(&token), expires_at, now)
            .await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::PasswordResetSend,
            (TargetKind::User, user.to_string()),
            json!({
                "delivery": if self.mailer.is_some() { "mail" } else { "link" },
                "expiresAt": expires_at,
            }),
        )
        .await?;
        tx.commit().await?;
        let url = self.public_url.link(&reset_path(tenant), &token);
        self.deliver(LinkKind::PasswordReset, tenant, found, url, expires_at)
            .await
    }

    /// Admin: [`Directory::invite`] (a pending user's one-time invitation, replacing
    /// an earlier one), then mails the link when mail is configured
    /// ([`Delivery::Mailed`]; [`ServiceError::MailNotSent`] when the server did not
    /// take it), else answers it ([`Delivery::Link`]).
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn send_invitation(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<Delivery> {
        let invitation = self.invite(caller, tenant, user).await?;
        let found = self.find_user(tenant, user).await?;
        let url = self
            .public_url
            .link(&invitation_path(tenant), invitation.token.expose_secret());
        self.deliver(
            LinkKind::Invitation,
            tenant,
            found,
            url,
            invitation.expires_at,
        )
        .await
    }

    /// Anyone holding the token: sets the new password, once. An unknown, used or
    /// expired token, another tenant's, or one whose user is no longer active is
    /// [`ServiceError::Unauthorized`]. The account's sign-in lockout is lifted and
    /// every token the user signed in with stops working.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn reset_password(
        &self,
        tenant: TenantId,
        token: &str,
        password: &NewPassword,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        let hash = token_of_tenant(parse_password_reset(token), tenant)?;
        // Hashed before the transaction, which must not wait on Argon2.
        let password_hash = self.passwords.hash(password).await?;
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let taken = tx.take_password_reset(tenant, &hash).await?;
        let current = user_of_link(&mut tx, tenant, taken, Status::Active, now).await?;
        let user_id = current.id;
        applied(
            tx.set_password_hash(tenant, user_id, &password_hash, now)
                .await?,
        )?;
        // A new password is a change of the user: its version and updatedAt move.
        let mut next = current.clone();
        next.has_password = true;
        next.login.password_changed_at = Some(now);
        next.version = current.version + 1;
        next.updated_at = now;
        applied(tx.update_user(&next, current.version).await?)?;
        clear_account_lockout(&mut tx, tenant, &current.email).await?;
        // Whoever knew the old password is signed out: its API tokens and its
        // console sessions end.
        let ended = tx.revoke_user_tokens_of(tenant, user_id, now).await?
            + tx.delete_sessions_of(tenant.as_uuid(), Some(user_id))
                .await?;
        audit_as(
            &mut tx,
            Actor::User(user_id),
            &client,
            tenant,
            Action::PasswordReset,
            (TargetKind::User, user_id.to_string()),
            json!({ "signInsEnded": ended }),
        )
        .await?;
        tx.record_changes([user_updated(Actor::User(user_id), &current, &next)]);
        tx.commit().await?;
        Ok(())
    }

    /// Mails the link to `user` when mail is configured, else answers it.
    async fn deliver(
        &self,
        kind: LinkKind,
        tenant: TenantId,
        user: User,
        url: String,
        expires_at: Timestamp,
    ) -> ServiceResult<Delivery> {
        let Some(mailer) = &self.mailer else {
            return Ok(Delivery::Link {
                url: SecretString::from(url),
                expires_at,
            });
        };
        let tenant_row = self
            .store
            .get_tenant(tenant)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))?;
        self.mail_link(mailer, kind, &tenant_row, &user, &url, expires_at)
            .await?;
        Ok(Delivery::Mailed { to: user.email })
    }

    /// Sends the message of `kind` with `url` to `user`, and records when a reset
    /// mail went out. A failure is logged (the server's answer, never the link) and
    /// answered as [`ServiceError::MailNotSent`].
    async fn mail_link(
        &self,
        mailer: &Mailer,
        kind: LinkKind,
        tenant: &Tenant,
        user: &User,
        url: &str,
        expires_at: Timestamp,
    ) -> ServiceResult<()> {
        let name = format!("{} {}", user.first_name, user.last_name);
        let letter = LinkLetter {
            to: &user.email,
            name: name.trim(),
            tenant_name: &tenant.name,
            url,
            expires_at,
            lifetime_seconds: match kind {
                LinkKind::PasswordReset => PASSWORD_RESET_TTL_SECONDS,
                LinkKind::Invitation => INVITATION_TTL_SECONDS,
            },
        };
        let message: Letter = match kind {
            LinkKind::PasswordReset => letters::password_reset(&letter),
            LinkKind::Invitation => letters::invitation(&letter),
        };
        if let Err(error) = mailer.send(message).await {
            tracing::warn!(
                tenant_id = %tenant.id,
                user_id = %user.id,
                kind = ?kind,
                error = %error,
                "a mail was not sent"
            );
            return Err(ServiceError::MailNotSent);
        }
        if let LinkKind::PasswordReset = kind {
            let mut tx = self.store.begin().await?;
            tx.record_password_reset_sent(tenant.id, user.id, Timestamp::now())
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_delivery_gives_its_token_back() {
        let delivery = Delivery::Link {
            url: SecretString::from(
                "http://127.0.0.1:1/ui/t/x/accept-invitation?token=ri_abc_def".to_owned(),
            ),
            expires_at: Timestamp::now(),
        };
        assert_eq!(
            delivery.link_token().map(|t| t.expose_secret().to_owned()),
            Some("ri_abc_def".to_owned())
        );
        assert!(
            Delivery::Mailed {
                to: "a@example.com".into()
            }
            .link_token()
            .is_none()
        );
    }

    #[test]
    fn reset_counters_are_not_sign_in_counters() {
        assert_ne!(
            reset_account_subject("a@example.com"),
            "email:a@example.com"
        );
        assert!(reset_address_subject("127.0.0.1").starts_with("reset-"));
    }
}
