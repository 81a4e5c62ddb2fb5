use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, Page, PageRequest, TargetKind, Tenant, TenantId, TenantName, Timestamp,
};

use super::{Directory, Precondition, Resource, ServiceError, ServiceResult, applied, audit};

impl Directory {
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn create_tenant(&self, caller: &Caller, name: TenantName) -> ServiceResult<Tenant> {
        Self::require_operator(caller)?;
        let now = Timestamp::now();
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.into_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_tenant(&tenant).await?;
        audit(
            &mut tx,
            caller,
            tenant.id,
            Action::TenantCreate,
            (TargetKind::Tenant, tenant.id.to_string()),
            json!({ "name": tenant.name }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant.id, "tenant created");
        Ok(tenant)
    }

    pub async fn list_tenants(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> ServiceResult<Page<Tenant>> {
        Self::require_operator(caller)?;
        let rows = self.store.list_tenants(page).await?;
        Ok(Page::from_rows(rows, page.limit, |t| t.id.as_uuid()))
    }

    /// The tenant a caller reads its directory in (its own, or any for the
    /// operator), or not found.
    pub async fn tenant_of_directory(
        &self,
        caller: &Caller,
        tenant: TenantId,
    ) -> ServiceResult<Tenant> {
        self.authorize(caller, tenant, super::Access::Read).await?;
        self.store
            .get_tenant(tenant)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))
    }

    /// The operator reads any tenant; a tenant's own keys read theirs.
    pub async fn get_tenant(&self, caller: &Caller, id: TenantId) -> ServiceResult<Tenant> {
        if caller.principal.tenant().is_some_and(|own| own != id) {
            return Err(ServiceError::NotFound(Resource::Tenant));
        }
        self.store
            .get_tenant(id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %id), err(level = "debug"))]
    pub async fn rename_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
        name: TenantName,
        precondition: Precondition,
    ) -> ServiceResult<Tenant> {
        Self::require_operator(caller)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_tenant(id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))?;
        precondition.check(current.version)?;
        if current.name == name.as_str() {
            return Ok(current);
        }
        let next = Tenant {
            name: name.into_string(),
            version: current.version + 1,
            updated_at: Timestamp::now(),
            ..current.clone()
        };
        applied(tx.update_tenant(&next, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            id,
            Action::TenantRename,
            (TargetKind::Tenant, id.to_string()),
            json!({ "from": current.name, "to": next.name }),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Deletes the tenant with every user, group, membership, key and audit event of it.
    #[tracing::instrument(skip_all, fields(tenant_id = %id), err(level = "debug"))]
    pub async fn delete_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        Self::require_operator(caller)?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_tenant(id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))?;
        precondition.check(current.version)?;
        applied(tx.delete_tenant(id, current.version).await?)?;
        tx.commit().await?;
        self.verified.forget_all();
        self.declared.forget(&id);
        // The tenant's audit log goes with it; the process log keeps the fact.
        tracing::info!(tenant_id = %id, actor = caller.principal.actor().kind(), "tenant deleted");
        Ok(())
    }
}
