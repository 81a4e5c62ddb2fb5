//! Secret formats. Every secret is 32 random bytes, so a single SHA-256 is a safe and
//! fast way to store and find it: there is nothing to guess that a slow hash would
//! protect. A tenant key names its tenant in clear, so that it is found by an index
//! that starts with the tenant id, as every index does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::TenantId;

const API_KEY_PREFIX: &str = "rk_";
const ACCESS_TOKEN_PREFIX: &str = "rt_";
const USER_KEY_PREFIX: &str = "ru_";
const USER_TOKEN_PREFIX: &str = "rs_";
const INVITATION_PREFIX: &str = "ri_";
const PASSWORD_RESET_PREFIX: &str = "rp_";
const OPERATOR_PREFIX: &str = "ro_";
const SESSION_PREFIX: &str = "rc_";

fn random_part() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a presented secret: what the database stores and looks up.
pub fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new tenant API key secret: `rk_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_api_key_secret(tenant: TenantId) -> String {
    format!(
        "{API_KEY_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// A new access token: `rt_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_access_token(tenant: TenantId) -> String {
    format!(
        "{ACCESS_TOKEN_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// A new personal access key of a user: `ru_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_user_access_key(tenant: TenantId) -> String {
    format!(
        "{USER_KEY_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// A new token for a signed-in user: `rs_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_user_token(tenant: TenantId) -> String {
    format!(
        "{USER_TOKEN_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// A new invitation token: `ri_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_invitation(tenant: TenantId) -> String {
    format!(
        "{INVITATION_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// The tenant an invitation token names, and the token's hash.
pub fn parse_invitation(token: &str) -> Option<(TenantId, Vec<u8>)> {
    scoped_tenant(token, INVITATION_PREFIX).map(|tenant| (tenant, sha256(token)))
}

/// A new console session secret: `rc_<tenant id, 32 hex>_<43 random characters>`;
/// an operator's session names the nil UUID.
pub fn generate_session_secret(tenant: Option<TenantId>) -> String {
    let tenant = tenant.map_or(Uuid::nil(), |t| t.as_uuid());
    format!("{SESSION_PREFIX}{}_{}", tenant.simple(), random_part())
}

/// The tenant a console session secret names (`None`: the operator's) and the
/// secret's hash; `None` for what is not a session secret.
pub fn parse_session_secret(secret: &str) -> Option<(Option<TenantId>, Vec<u8>)> {
    scoped_tenant(secret, SESSION_PREFIX).map(|tenant| {
        let tenant = (!tenant.as_uuid().is_nil()).then_some(tenant);
        (tenant, sha256(secret))
    })
}

/// A new password-reset token: `rp_<tenant id, 32 hex>_<43 random characters>`.
pub fn generate_password_reset(tenant: TenantId) -> String {
    format!(
        "{PASSWORD_RESET_PREFIX}{}_{}",
        tenant.as_uuid().simple(),
        random_part()
    )
}

/// The tenant a password-reset token names, and the token's hash.
pub fn parse_password_reset(token: &str) -> Option<(TenantId, Vec<u8>)> {
    scoped_tenant(token, PASSWORD_RESET_PREFIX).map(|tenant| (tenant, sha256(token)))
}

/// A new operator secret: `ro_<43 random characters>`.
pub fn generate_operator_secret() -> String {
    format!("{OPERATOR_PREFIX}{}", random_part())
}

/// A bearer token as presented, classified by its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedToken {
    /// Has the form of a tenant API key.
    ApiKey { tenant: TenantId, hash: Vec<u8> },
    /// Has the form of an access token.
    AccessToken { tenant: TenantId, hash: Vec<u8> },
    /// Has the form of a user's personal access key.
    UserAccessKey { tenant: TenantId, hash: Vec<u8> },
    /// Has the form of a signed-in user's token.
    UserToken { tenant: TenantId, hash: Vec<u8> },
    /// Anything else: only an operator credential can match it.
    Other { hash: Vec<u8> },
}

impl PresentedToken {
    pub fn parse(token: &str) -> Self {
        let hash = sha256(token);
        if let Some(tenant) = scoped_tenant(token, API_KEY_PREFIX) {
            PresentedToken::ApiKey { tenant, hash }
        } else if let Some(tenant) = scoped_tenant(token, ACCESS_TOKEN_PREFIX) {
            PresentedToken::AccessToken { tenant, hash }
        } else if let Some(tenant) = scoped_tenant(token, USER_KEY_PREFIX) {
            PresentedToken::UserAccessKey { tenant, hash }
        } else if let Some(tenant) = scoped_tenant(token, USER_TOKEN_PREFIX) {
            PresentedToken::UserToken { tenant, hash }
        } else {
            PresentedToken::Other { hash }
        }
    }
}

/// The tenant named by a `<prefix><32 hex>_…` secret.
fn scoped_tenant(token: &str, prefix: &str) -> Option<TenantId> {
    token
        .strip_prefix(prefix)
        .and_then(|rest| rest.get(..32).zip(rest.get(32..33)))
        .filter(|(_, separator)| *separator == "_")
        .and_then(|(hex, _)| Uuid::try_parse(hex).ok())
        .map(TenantId::from_uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_secrets_name_their_tenant() {
        let tenant = TenantId::generate();
        let secret = generate_api_key_secret(tenant);
        assert_eq!(secret.len(), 3 + 32 + 1 + 43);
        assert_eq!(
            PresentedToken::parse(&secret),
            PresentedToken::ApiKey {
                tenant,
                hash: sha256(&secret)
            }
        );
    }

    #[test]
    fn access_tokens_name_their_tenant() {
        let tenant = TenantId::generate();
        let token = generate_access_token(tenant);
        assert!(matches!(
            PresentedToken::parse(&token),
            PresentedToken::AccessToken { tenant: t, .. } if t == tenant
        ));
    }

    #[test]
    fn user_access_keys_name_their_tenant() {
        let tenant = TenantId::generate();
        let key = generate_user_access_key(tenant);
        assert!(matches!(
            PresentedToken::parse(&key),
            PresentedToken::UserAccessKey { tenant: t, .. } if t == tenant
        ));
    }

    #[test]
    fn password_reset_tokens_name_their_tenant_and_are_no_invitations() {
        let tenant = TenantId::generate();
        let token = generate_password_reset(tenant);
        assert_eq!(token.len(), 3 + 32 + 1 + 43);
        assert_eq!(parse_password_reset(&token), Some((tenant, sha256(&token))));
        assert_eq!(parse_invitation(&token), None);
        assert_eq!(parse_password_reset(&generate_invitation(tenant)), None);
        assert!(matches!(
            PresentedToken::parse(&token),
            PresentedToken::Other { .. }
        ));
    }

    #[test]
    fn other_tokens_are_only_hashed() {
        for token in [
            "ro_abc",
            "rk_short",
            "rk_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_x",
            "plain",
        ] {
            assert!(
                matches!(PresentedToken::parse(token), PresentedToken::Other { .. }),
                "{token}"
            );
        }
    }

    #[test]
    fn secrets_do_not_repeat() {
        assert_ne!(generate_operator_secret(), generate_operator_secret());
    }
}
