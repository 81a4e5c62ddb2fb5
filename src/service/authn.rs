use crate::auth::{PresentedToken, Principal, generate_operator_secret, sha256};
use crate::domain::Timestamp;
use crate::store::OperatorCredentialSource;

use super::{Directory, ServiceError, ServiceResult};

/// A key's last use is written at most this often, so that reads stay reads.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

impl Directory {
    /// Who the bearer of `token` is. Unknown, revoked and expired credentials are all
    /// [`ServiceError::Unauthorized`], alike. Costs one SHA-256 and one indexed lookup.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Principal> {
        match PresentedToken::parse(token) {
            PresentedToken::ApiKey { tenant, hash } => {
                let key = self
                    .store
                    .find_api_key(tenant, &hash)
                    .await?
                    .ok_or(ServiceError::Unauthorized)?;
                let now = Timestamp::now();
                if !key.is_usable_at(now) {
                    return Err(ServiceError::Unauthorized);
                }
                let stale_before = now.plus_seconds(-LAST_USED_RESOLUTION_SECONDS);
                if key.last_used_at.is_none_or(|at| at < stale_before) {
                    self.record_key_use(key.tenant_id, key.id, now, stale_before);
                }
                Ok(Principal::ApiKey {
                    tenant_id: key.tenant_id,
                    key_id: key.id,
                    role: key.role,
                })
            }
            PresentedToken::Other { hash } => {
                if self.store.is_operator_credential(&hash).await? {
                    Ok(Principal::Operator)
                } else {
                    Err(ServiceError::Unauthorized)
                }
            }
        }
    }

    /// Writes a key's last use after the request that used it, off its path.
    fn record_key_use(
        &self,
        tenant: crate::domain::TenantId,
        key: crate::domain::ApiKeyId,
        now: Timestamp,
        stale_before: Timestamp,
    ) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = async {
                let mut tx = store.begin().await?;
                tx.touch_api_key(tenant, key, now, stale_before).await?;
                tx.commit().await
            }
            .await;
            if let Err(error) = result {
                tracing::warn!(%error, key_id = %key, "could not record an API key's last use");
            }
        });
    }

    /// Makes sure an operator credential exists. With `bootstrap`, that exact string
    /// becomes the operator credential (replacing an earlier bootstrap token); without,
    /// one is generated when none exists, and returned so that it can be shown once.
    pub async fn ensure_operator_credential(
        &self,
        bootstrap: Option<&str>,
    ) -> ServiceResult<Option<String>> {
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let generated = match bootstrap {
            Some(token) => {
                tx.replace_operator_credential(
                    OperatorCredentialSource::Bootstrap,
                    &sha256(token),
                    now,
                )
                .await?;
                None
            }
            None if tx.has_operator_credential().await? => None,
            None => {
                let secret = generate_operator_secret();
                tx.replace_operator_credential(
                    OperatorCredentialSource::Generated,
                    &sha256(&secret),
                    now,
                )
                .await?;
                Some(secret)
            }
        };
        tx.commit().await?;
        Ok(generated)
    }
}
