//! Credentials verified lately, so that a client's requests after its first do not
//! each look its key up again: API keys, the access tokens issued for them, and the
//! operator credential, by the SHA-256 of the secret presented.
//!
//! A credential is trusted from here for at most [`super::TRUST_SECONDS`], and never past
//! its own expiry. Revoking a key or a token, or deleting a tenant, forgets every
//! credential on the instance that did it, so it takes effect there at once; other
//! instances over the same database stop accepting it within [`super::TRUST_SECONDS`].
//! Users' own keys and sign-in tokens are not kept: they stop the moment their user
//! is disabled, which any write of a user can do.

use crate::auth::Principal;
use crate::domain::Timestamp;

use super::recent::{Recent, Ticket};

/// A credential as verified.
#[derive(Debug, Clone, Copy)]
struct Verified {
    principal: Principal,
    /// When the credential itself stops working, if it does.
    expires_at: Option<Timestamp>,
}

/// Credentials verified lately, by the SHA-256 of the secret: cheap to clone,
/// shared by every request.
#[derive(Clone, Default)]
pub(crate) struct VerifiedCredentials(Recent<Vec<u8>, Verified>);

impl VerifiedCredentials {
    /// Who the secret hashed to `hash` was verified to be, if lately and it has not
    /// expired since.
    pub(crate) fn get(&self, hash: &[u8], now: Timestamp) -> Option<Principal> {
        let verified = self.0.get(hash)?;
        verified
            .expires_at
            .is_none_or(|at| now < at)
            .then_some(verified.principal)
    }

    /// To take before verifying a credential that [`VerifiedCredentials::keep`]
    /// may keep.
    pub(crate) fn ticket(&self) -> Ticket {
        self.0.ticket()
    }

    /// Remembers that the secret hashed to `hash` is `principal`'s until
    /// `expires_at`, as verified under `ticket`.
    pub(crate) fn keep(
        &self,
        hash: &[u8],
        principal: Principal,
        expires_at: Option<Timestamp>,
        ticket: Ticket,
    ) {
        let verified = Verified {
            principal,
            expires_at,
        };
        self.0.keep(hash.to_vec(), verified, ticket);
    }

    /// Forgets every credential, after one was revoked.
    pub(crate) fn forget_all(&self) {
        self.0.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKeyId, ApiKeyRole, TenantId};

    fn key() -> Principal {
        Principal::ApiKey {
            tenant_id: TenantId::generate(),
            key_id: ApiKeyId::generate(),
            role: ApiKeyRole::Admin,
        }
    }

    #[test]
    fn a_credential_is_trusted_until_it_expires_or_is_forgotten() {
        let verified = VerifiedCredentials::default();
        let now = Timestamp::now();
        let (lasting, expiring) = (key(), key());
        let ticket = verified.ticket();
        verified.keep(b"lasting", lasting, None, ticket);
        verified.keep(b"expiring", expiring, Some(now.plus_seconds(1)), ticket);
        assert_eq!(verified.get(b"lasting", now), Some(lasting));
        assert_eq!(verified.get(b"expiring", now), Some(expiring));
        assert_eq!(verified.get(b"expiring", now.plus_seconds(1)), None);
        assert_eq!(verified.get(b"unknown", now), None);
        verified.forget_all();
        assert_eq!(verified.get(b"lasting", now), None);
    }
}
