//! A user's own credentials as an administrator manages them: the personal access
//! key and the password.

use secrecy::SecretString;
use serde_json::json;

use crate::auth::{Caller, generate_user_access_key, sha256};
use crate::domain::{
    Action, NewPassword, NewUser, Status, TargetKind, TenantId, Timestamp, User, UserId,
};

use super::changes::user_updated;
use super::users::{NewRecord, insert_user};
use super::{Access, Directory, Resource, ServiceError, ServiceResult, applied, audit};

impl Directory {
    /// Creates a user together with a personal access key, atomically; the key's
    /// secret is returned this once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_user_with_access_key(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewUser,
    ) -> ServiceResult<(User, SecretString)> {
        self.authorize(caller, tenant, Access::Write).await?;
        let NewRecord {
            mut user,
            password_hash,
            declared,
        } = self.new_record(tenant, new).await?;
        let key = generate_user_access_key(tenant);
        let mut tx = self.store.begin().await?;
        insert_user(
            &mut tx,
            caller,
            &mut user,
            password_hash.as_deref(),
            &declared,
        )
        .await?;
        applied(tx.set_access_key(tenant, user.id, &sha256(&key)).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserAccessKeyReset,
            (TargetKind::User, user.id.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok((user, SecretString::from(key)))
    }

    /// Gives the user a new personal access key; the old one stops working at once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn reset_user_access_key(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<(User, SecretString)> {
        self.authorize(caller, tenant, Access::Write).await?;
        let key = generate_user_access_key(tenant);
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_user(tenant, user)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        applied(tx.set_access_key(tenant, user, &sha256(&key)).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserAccessKeyReset,
            (TargetKind::User, user.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok((current, SecretString::from(key)))
    }

    /// Sets the user's password (an administrator's reset). A pending user, who was
    /// waiting for a password, becomes active.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %user), err(level = "debug"))]
    pub async fn set_password(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
        password: &NewPassword,
    ) -> ServiceResult<User> {
        self.authorize(caller, tenant, Access::Write).await?;
        let hash = self.passwords.hash(password).await?;
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_user(tenant, user)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        applied(tx.set_password_hash(tenant, user, &hash, now).await?)?;
        // A new password is a change of the user (hasPassword, passwordChangedAt):
        // its version and updatedAt move, so every face's ETag and times follow.
        let mut next = current.clone();
        next.has_password = true;
        next.login.password_changed_at = Some(now);
        if current.status == Status::Pending {
            next.status = Status::Active;
        }
        next.version = current.version + 1;
        next.updated_at = now;
        applied(tx.update_user(&next, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserPasswordSet,
            (TargetKind::User, user.to_string()),
            json!({ "activated": current.status == Status::Pending }),
        )
        .await?;
        tx.record_changes([user_updated(caller, &current, &next)]);
        tx.commit().await?;
        Ok(next)
    }
}
