use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, Group, GroupId, GroupPatch, NewGroup, Page, PageRequest, TargetKind, TenantId,
    Timestamp, User, UserFilter, UserId,
};
use crate::store::{StoreError, Tx};

use super::{
    Access, Attempt, Directory, Precondition, Resource, ServiceError, ServiceResult, applied,
    audit, retry_contended,
};

/// The names of the fields that differ between two versions of a group.
fn changed_fields(before: &Group, after: &Group) -> Vec<&'static str> {
    [
        (before.name != after.name, "name"),
        (before.description != after.description, "description"),
        (
            before.federated_attribute_values != after.federated_attribute_values,
            "federatedAttributeValues",
        ),
        (before.external_id != after.external_id, "externalId"),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect()
}

/// A new group as it will be stored.
pub(super) fn group_record(tenant: TenantId, new: NewGroup, now: Timestamp) -> Group {
    Group {
        id: GroupId::generate(),
        tenant_id: tenant,
        name: new.name.into_string(),
        description: new.description.into_string(),
        owner: new.owner,
        federated_attribute_values: new.federated_attribute_values,
        external_id: new.external_id.map(|e| e.into_string()),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts a new group with its audit event.
pub(super) async fn insert_group(tx: &mut Tx, caller: &Caller, group: &Group) -> ServiceResult<()> {
    tx.insert_group(group).await?;
    audit(
        tx,
        caller,
        group.tenant_id,
        Action::GroupCreate,
        (TargetKind::Group, group.id.to_string()),
        json!({ "name": group.name, "owner": group.owner.as_str() }),
    )
    .await
}

impl Directory {
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewGroup,
    ) -> ServiceResult<Group> {
        self.authorize(caller, tenant, Access::Write).await?;
        let now = Timestamp::now();
        let group = group_record(tenant, new, now);
        let mut tx = self.store.begin().await?;
        insert_group(&mut tx, caller, &group).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn get_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
    ) -> ServiceResult<Group> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.find_group(tenant, id).await
    }

    pub(super) async fn find_group(&self, tenant: TenantId, id: GroupId) -> ServiceResult<Group> {
        self.store
            .get_group(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))
    }

    pub async fn list_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> ServiceResult<Page<Group>> {
        self.authorize(caller, tenant, Access::Read).await?;
        let rows = self.store.list_groups(tenant, None, page).await?;
        Ok(Page::from_rows(rows, page.limit, |g| g.id.as_uuid()))
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %id), err(level = "debug"))]
    pub async fn update_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
        patch: GroupPatch,
        precondition: Precondition,
    ) -> ServiceResult<Group> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_group(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        precondition.check(current.version)?;
        let mut next = current.clone();
        patch.apply_to(&mut next);
        let changed = changed_fields(&current, &next);
        if changed.is_empty() {
            return Ok(current);
        }
        next.version = current.version + 1;
        next.updated_at = Timestamp::now();
        applied(tx.update_group(&next, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::GroupUpdate,
            (TargetKind::Group, id.to_string()),
            json!({ "fields": changed }),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Deletes the group and its memberships.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %id), err(level = "debug"))]
    pub async fn delete_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_group(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        precondition.check(current.version)?;
        applied(tx.delete_group(tenant, id, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::GroupDelete,
            (TargetKind::Group, id.to_string()),
            json!({ "name": current.name }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of the group's members, in id order.
    pub async fn list_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        page: PageRequest,
    ) -> ServiceResult<Page<User>> {
        let filter = UserFilter {
            group_id: Some(group),
            ..UserFilter::default()
        };
        self.list_users(caller, tenant, &filter, page).await
    }

    /// Makes `user` a member of `group`; adding an existing member changes nothing.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group, user_id = %user), err(level = "debug"))]
    pub async fn add_member(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        user: UserId,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        self.find_group(tenant, group).await?;
        self.find_user(tenant, user).await?;
        retry_contended(move || self.try_add_member(caller, tenant, group, user)).await
    }

    /// One try of [`Self::add_member`]'s transaction.
    async fn try_add_member(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        user: UserId,
    ) -> Result<(), Attempt> {
        let mut tx = self.store.begin().await?;
        // The group's lock first, as every membership change takes it.
        tx.lock_group(tenant, group)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        let added = match tx.add_member(tenant, group, user, Timestamp::now()).await {
            Ok(added) => added,
            // Deleted between the lookups above and the insert.
            Err(StoreError::MissingReference) => {
                return Err(ServiceError::NotFound(Resource::User).into());
            }
            Err(other) => return Err(other.into()),
        };
        if added {
            audit(
                &mut tx,
                caller,
                tenant,
                Action::MemberAdd,
                (TargetKind::Group, group.to_string()),
                json!({ "userId": user }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends `user`'s membership of `group` (and with it a default-group mark).
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group, user_id = %user), err(level = "debug"))]
    pub async fn remove_member(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        user: UserId,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        self.find_group(tenant, group).await?;
        self.find_user(tenant, user).await?;
        let mut tx = self.store.begin().await?;
        tx.lock_group(tenant, group)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        if !tx.remove_member(tenant, group, user).await? {
            return Err(ServiceError::NotFound(Resource::Membership));
        }
        audit(
            &mut tx,
            caller,
            tenant,
            Action::MemberRemove,
            (TargetKind::Group, group.to_string()),
            json!({ "userId": user }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
