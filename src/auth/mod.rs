//! Credentials: how secrets are made, presented and checked, and who a caller is.

mod password;
mod secret;
mod totp;

pub use password::{PasswordError, PasswordHasher, PasswordParams, Verification};
pub use secret::{
    PresentedToken, generate_access_token, generate_api_key_secret, generate_invitation,
    generate_operator_secret, generate_password_reset, generate_session_secret,
    generate_user_access_key, generate_user_token, parse_invitation, parse_password_reset,
    parse_session_secret, sha256,
};
pub use totp::{
    RECOVERY_CODE_COUNT, TOTP_ALGORITHM, TOTP_DIGITS, TOTP_STEP_SECONDS, TotpSecret,
    generate_recovery_codes, is_totp_code, qr_code_data_uri, recovery_code_hash,
};

use crate::domain::{Actor, ApiKeyId, ApiKeyRole, ClientInfo, Role, TenantId, UserId};

/// Who is calling, as established from the request's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The operator credential (HTTP) or the command line: every tenant.
    Operator,
    /// The command line, acting as the operator on the database directly.
    Cli,
    /// A tenant API key.
    ApiKey {
        tenant_id: TenantId,
        key_id: ApiKeyId,
        role: ApiKeyRole,
    },
    /// A user, through a sign-in's token or its personal access key: acts with the
    /// user's role.
    User {
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    },
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Operator => Actor::Operator,
            Principal::Cli => Actor::Cli,
            Principal::ApiKey { key_id, .. } => Actor::ApiKey(*key_id),
            Principal::User { user_id, .. } => Actor::User(*user_id),
        }
    }

    /// The tenant the caller is confined to; `None` for the operator.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Principal::Operator | Principal::Cli => None,
            Principal::ApiKey { tenant_id, .. } | Principal::User { tenant_id, .. } => {
                Some(*tenant_id)
            }
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator | Principal::Cli)
    }

    /// Whether the caller is user `user` of `tenant` itself.
    pub fn is_user(&self, tenant: TenantId, user: UserId) -> bool {
        matches!(self, Principal::User { tenant_id, user_id, .. }
            if *tenant_id == tenant && *user_id == user)
    }
}

/// A caller: the principal and where the request came from (for the audit log).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client: ClientInfo,
}

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Actor {
        caller.principal.actor()
    }
}

impl Caller {
    /// The command line, run by whoever can reach the database.
    pub fn cli() -> Self {
        Self {
            principal: Principal::Cli,
            client: ClientInfo::default(),
        }
    }
}
