use secrecy::SecretString;
use serde_json::json;

use crate::auth::{Caller, generate_api_key_secret, sha256};
use crate::domain::{
    Action, ApiKey, ApiKeyId, NewApiKey, Page, PageRequest, TargetKind, TenantId, Timestamp,
};

use super::{Access, Directory, Resource, ServiceError, ServiceResult, audit};

/// A key just made, with the secret that is shown this once and never again.
#[derive(Debug)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: SecretString,
}

impl Directory {
    /// Makes a key for the tenant: the operator or one of the tenant's admin keys may.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewApiKey,
    ) -> ServiceResult<CreatedApiKey> {
        self.authorize(caller, tenant, Access::Write).await?;
        let now = Timestamp::now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::invalid("expiresAt", "must be in the future"));
        }
        let key = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: tenant,
            name: new.name.into_string(),
            description: new.description.into_string(),
            role: new.role,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
            created_at: now,
        };
        let secret = generate_api_key_secret(tenant);
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key, &sha256(&secret)).await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::ApiKeyCreate,
            (TargetKind::ApiKey, key.id.to_string()),
            json!({ "name": key.name, "role": key.role.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            key,
            secret: SecretString::from(secret),
        })
    }

    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> ServiceResult<Page<ApiKey>> {
        self.authorize(caller, tenant, Access::Read).await?;
        let rows = self.store.list_api_keys(tenant, page).await?;
        Ok(Page::from_rows(rows, page.limit, |k| k.id.as_uuid()))
    }

    pub async fn get_api_key(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: ApiKeyId,
    ) -> ServiceResult<ApiKey> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.store
            .get_api_key(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::ApiKey))
    }

    /// Revokes the key: from now on it authenticates nothing. Revoking a revoked key
    /// changes nothing.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, key_id = %id), err(level = "debug"))]
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: ApiKeyId,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        if tx.revoke_api_key(tenant, id, Timestamp::now()).await? {
            audit(
                &mut tx,
                caller,
                tenant,
                Action::ApiKeyRevoke,
                (TargetKind::ApiKey, id.to_string()),
                json!({}),
            )
            .await?;
            tx.commit().await?;
            self.verified.forget_all();
            return Ok(());
        }
        drop(tx);
        self.store
            .get_api_key(tenant, id)
            .await?
            .map(|_| ())
            .ok_or(ServiceError::NotFound(Resource::ApiKey))
    }
}
