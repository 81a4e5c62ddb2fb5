//! Two-factor sign-in: a signed-in user enrols a TOTP authenticator (with its
//! password), confirms it with a first code and receives one-time recovery codes;
//! from then on signing in needs a code as well. The user turns it off with a
//! code; an administrator turns it off for a user who lost the authenticator.

use secrecy::SecretString;
use serde_json::json;

use crate::auth::{
    Caller, TotpSecret, generate_recovery_codes, is_totp_code, qr_code_data_uri, recovery_code_hash,
};
use crate::domain::{Action, TargetKind, TenantId, Timestamp, UserId};

use super::changes::user_touched;
use super::sign_in::own_account;
use super::{Access, Directory, ServiceError, ServiceResult, audit};

/// An enrolment just started: what the authenticator app needs, shown this once.
#[derive(Debug)]
pub struct TotpEnrolmentStarted {
    /// The shared secret in base32, for typing into the app.
    pub secret: SecretString,
    /// The `otpauth://totp/…` URI the QR code holds.
    pub otpauth_uri: SecretString,
    /// The QR code as an SVG `data:` URI.
    pub qr_code: SecretString,
}

/// Where a user's two-factor sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// An enrolment was started and awaits its first code.
    pub pending: bool,
    pub recovery_codes_left: i64,
}

/// A second factor that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    RecoveryCode,
}

impl SecondFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::RecoveryCode => "recovery_code",
        }
    }
}

fn unix_seconds(now: Timestamp) -> u64 {
    u64::try_from(now.millis() / 1000).unwrap_or(0)
}

impl Directory {
    /// Starts (or restarts) the signed-in user's TOTP enrolment; its password must
    /// be given. Two-factor sign-in is not on until [`Self::confirm_totp`].
    pub async fn start_totp_enrolment(
        &self,
        caller: &Caller,
        password: &str,
    ) -> ServiceResult<TotpEnrolmentStarted> {
        let (tenant, user_id) = own_account(caller, "only a signed-in user enrols two-factor")?;
        let user = self
            .verify_own_password(tenant, user_id, "password", password, &caller.client)
            .await?;
        if user.two_factor_enabled {
            return Err(ServiceError::Conflict {
                field: "twoFactorEnabled",
                message: "two-factor sign-in is already on; turn it off before enrolling again"
                    .into(),
            });
        }
        let issuer = self
            .store
            .get_tenant(tenant)
            .await?
            .map_or_else(|| "Roster".to_owned(), |t| t.name);
        let secret = TotpSecret::generate();
        let uri = secret.otpauth_uri(&issuer, &user.email);
        let qr_code =
            qr_code_data_uri(&uri).map_err(|e| ServiceError::Internal(anyhow::anyhow!("{e}")))?;
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        tx.replace_totp_enrolment(tenant, user_id, &secret.to_base32(), now)
            .await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::TwoFactorEnrol,
            (TargetKind::User, user_id.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(TotpEnrolmentStarted {
            secret: SecretString::from(secret.to_base32()),
            otpauth_uri: SecretString::from(uri),
            qr_code: SecretString::from(qr_code),
        })
    }

    /// Confirms the pending enrolment with a code from the authenticator: two-factor
    /// sign-in is on, and the user's recovery codes are returned (this once).
    pub async fn confirm_totp(&self, caller: &Caller, code: &str) -> ServiceResult<Vec<String>> {
        let (tenant, user_id) = own_account(caller, "only a signed-in user enrols two-factor")?;
        let enrolment = self
            .store
            .totp_enrolment(tenant, user_id)
            .await?
            .filter(|e| !e.confirmed)
            .ok_or_else(|| {
                ServiceError::invalid("code", "no enrolment is pending; start one first")
            })?;
        let now = Timestamp::now();
        let step = TotpSecret::from_base32(&enrolment.secret)
            .and_then(|secret| secret.matching_step(code, unix_seconds(now)))
            .ok_or_else(|| wrong_code("code"))?;
        let codes = generate_recovery_codes();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        let mut tx = self.store.begin().await?;
        let user = tx
            .lock_user(tenant, user_id)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        if user.two_factor_enabled {
            return Err(ServiceError::Conflict {
                field: "twoFactorEnabled",
                message: "two-factor sign-in is already on".into(),
            });
        }
        if !tx.accept_totp_step(tenant, user_id, step as i64).await? {
            return Err(wrong_code("code"));
        }
        tx.confirm_totp_enrolment(tenant, user_id, now).await?;
        tx.replace_recovery_codes(tenant, user_id, &hashes, now)
            .await?;
        let version = (tx.set_two_factor_enabled(tenant, user_id, true, now)).await?;
        tx.record_changes(user_touched(
            caller,
            tenant,
            user_id,
            version,
            &["twoFactorEnabled"],
        ));
        audit(
            &mut tx,
            caller,
            tenant,
            Action::TwoFactorEnable,
            (TargetKind::User, user_id.to_string()),
            json!({ "recoveryCodes": codes.len() }),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Replaces the signed-in user's recovery codes; a current code (TOTP or an
    /// unused recovery code) must be given. The new codes are returned this once.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
        code: &str,
    ) -> ServiceResult<Vec<String>> {
        let (tenant, user_id) = own_account(caller, "only a signed-in user has recovery codes")?;
        let factor = self
            .verify_own_second_factor(tenant, user_id, code, &caller.client)
            .await?;
        let codes = generate_recovery_codes();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        tx.replace_recovery_codes(tenant, user_id, &hashes, now)
            .await?;
        // New credentials are a change of the user: its version and updatedAt move.
        let version = tx.touch_user(tenant, user_id, now).await?;
        tx.record_changes(user_touched(
            caller,
            tenant,
            user_id,
            version,
            &["recoveryCodes"],
        ));
        audit(
            &mut tx,
            caller,
            tenant,
            Action::RecoveryCodesRegenerate,
            (TargetKind::User, user_id.to_string()),
            json!({ "verifiedWith": factor.as_str(), "recoveryCodes": codes.len() }),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in off for the signed-in user, who proves it with a
    /// current code (TOTP or an unused recovery code).
    pub async fn disable_own_two_factor(&self, caller: &Caller, code: &str) -> ServiceResult<()> {
        let (tenant, user_id) =
            own_account(caller, "only a signed-in user turns its own two-factor off")?;
        let factor = self
            .verify_own_second_factor(tenant, user_id, code, &caller.client)
            .await?;
        self.remove_two_factor(
            caller,
            tenant,
            user_id,
            json!({ "verifiedWith": factor.as_str() }),
        )
        .await
    }

    /// Turns two-factor sign-in off for a user (an administrator's reset, for a user
    /// who lost its authenticator and its recovery codes).
    pub async fn disable_two_factor(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        self.find_user(tenant, user).await?;
        self.remove_two_factor(caller, tenant, user, json!({ "byAdministrator": true }))
            .await
    }

    /// Where the signed-in user's two-factor sign-in stands.
    pub async fn own_two_factor_status(&self, caller: &Caller) -> ServiceResult<TwoFactorStatus> {
        let (tenant, user_id) = own_account(caller, "only a signed-in user has two-factor")?;
        let user = self.find_user(tenant, user_id).await?;
        let enrolment = self.store.totp_enrolment(tenant, user_id).await?;
        Ok(TwoFactorStatus {
            enabled: user.two_factor_enabled,
            pending: enrolment.is_some_and(|e| !e.confirmed),
            recovery_codes_left: self.store.count_recovery_codes(tenant, user_id).await?,
        })
    }

    async fn remove_two_factor(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
        details: serde_json::Value,
    ) -> ServiceResult<()> {
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_user(tenant, user)
            .await?
            .ok_or(ServiceError::NotFound(super::Resource::User))?;
        tx.delete_two_factor(tenant, user).await?;
        if current.two_factor_enabled {
            let version = tx.set_two_factor_enabled(tenant, user, false, now).await?;
            tx.record_changes(user_touched(
                caller,
                tenant,
                user,
                version,
                &["twoFactorEnabled"],
            ));
        }
        audit(
            &mut tx,
            caller,
            tenant,
            Action::TwoFactorDisable,
            (TargetKind::User, user.to_string()),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a code the signed-in user gives to change its own two-factor settings;
    /// a wrong code counts as a failed sign-in of the account, as a wrong password
    /// does, so that codes cannot be guessed with a stolen token.
    async fn verify_own_second_factor(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &str,
        client: &crate::domain::ClientInfo,
    ) -> ServiceResult<SecondFactor> {
        let found = self.find_user(tenant, user).await?;
        if !found.two_factor_enabled {
            return Err(ServiceError::invalid(
                "code",
                "two-factor sign-in is not on",
            ));
        }
        self.refuse_if_locked(tenant, &found.email, client).await?;
        match self.accept_second_factor(tenant, user, code).await? {
            Some(factor) => Ok(factor),
            None => {
                self.count_account_failure(tenant, user, &found.email, client)
                    .await?;
                Err(wrong_code("code"))
            }
        }
    }

    /// Accepts a second factor of a user whose two-factor sign-in is on: a TOTP code
    /// not accepted before, or an unused recovery code, which is used up. `None`
    /// when the code is neither.
    pub(super) async fn accept_second_factor(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &str,
    ) -> ServiceResult<Option<SecondFactor>> {
        let code = code.trim();
        if is_totp_code(code) {
            let step = self
                .store
                .totp_enrolment(tenant, user)
                .await?
                .filter(|e| e.confirmed)
                .and_then(|e| TotpSecret::from_base32(&e.secret))
                .and_then(|secret| secret.matching_step(code, unix_seconds(Timestamp::now())));
            let Some(step) = step else {
                return Ok(None);
            };
            let mut tx = self.store.begin().await?;
            let accepted = tx.accept_totp_step(tenant, user, step as i64).await?;
            tx.commit().await?;
            Ok(accepted.then_some(SecondFactor::Totp))
        } else {
            let mut tx = self.store.begin().await?;
            let taken = tx
                .take_recovery_code(tenant, user, &recovery_code_hash(code))
                .await?;
            tx.commit().await?;
            Ok(taken.then_some(SecondFactor::RecoveryCode))
        }
    }
}

fn wrong_code(field: &str) -> ServiceError {
    ServiceError::invalid(
        field,
        "is not a current code of the authenticator (or an unused recovery code)",
    )
}
