//! The operations SCIM provisioning needs beyond the shared ones: filtered lists with
//! a total, resources read with their memberships, and a group's members changed in
//! batches, each batch one transaction.

use std::collections::HashSet;

use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, Filter, Group, GroupAttr, GroupId, GroupOwner, GroupPatch, NewGroup, Sort, TargetKind,
    TenantId, Timestamp, User, UserAttr, UserId,
};
use crate::store::Tx;

use super::groups::{group_record, insert_group};
use super::{
    Access, Attempt, Directory, Precondition, Resource, ServiceError, ServiceResult, applied,
    audit, retry_contended,
};

/// A user with the (id, name) of each group it belongs to.
#[derive(Debug, Clone)]
pub struct ProvisionedUser {
    pub user: User,
    pub groups: Vec<(GroupId, String)>,
}

/// A group with the ids of its members.
#[derive(Debug, Clone)]
pub struct ProvisionedGroup {
    pub group: Group,
    pub members: Vec<UserId>,
}

/// A user or a group, as a search across resource types answers them.
#[derive(Debug, Clone)]
pub enum ProvisionedResource {
    /// Boxed: a user with its profile is several times a group's size.
    User(Box<ProvisionedUser>),
    Group(ProvisionedGroup),
}

/// One numbered window of a filtered list, and how many match in all.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub total: i64,
    pub items: Vec<T>,
}

/// A change to a group's members, applied all or nothing.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    /// When set, the members become exactly these (before `add` and `remove`).
    pub replace: Option<Vec<UserId>>,
    pub add: Vec<UserId>,
    pub remove: Vec<UserId>,
}

impl Directory {
    /// The users matching `filter`: `count` of them after skipping `offset`, with their
    /// groups read in one query, and how many match.
    pub async fn provisioned_users(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: &Filter<UserAttr>,
        sort: Option<Sort<UserAttr>>,
        offset: u64,
        count: u32,
    ) -> ServiceResult<Listing<ProvisionedUser>> {
        self.authorize(caller, tenant, Access::Read).await?;
        let total = self.store.count_users_matching(tenant, filter).await?;
        let users = if count == 0 {
            Vec::new()
        } else {
            self.store
                .users_matching(tenant, filter, sort, offset, count)
                .await?
        };
        let items = self.users_with_groups(tenant, users).await?;
        Ok(Listing { total, items })
    }

    /// The users matching `users` and then the groups matching `groups`, each in id
    /// order, as one list: `count` of them after skipping `offset`, and how many
    /// match in all. Each part is read as its own list is, so the window is found
    /// through the tenant's indexes however it falls across the two.
    pub async fn provisioned_resources(
        &self,
        caller: &Caller,
        tenant: TenantId,
        users: &Filter<UserAttr>,
        groups: &Filter<GroupAttr>,
        offset: u64,
        count: u32,
    ) -> ServiceResult<Listing<ProvisionedResource>> {
        let users = self
            .provisioned_users(caller, tenant, users, None, offset, count)
            .await?;
        let user_total = u64::try_from(users.total).unwrap_or_default();
        let left = count.saturating_sub(u32::try_from(users.items.len()).unwrap_or(count));
        let groups = self
            .provisioned_groups(
                caller,
                tenant,
                groups,
                None,
                offset.saturating_sub(user_total),
                left,
            )
            .await?;
        let items = (users.items.into_iter())
            .map(|user| ProvisionedResource::User(Box::new(user)))
            .chain(groups.items.into_iter().map(ProvisionedResource::Group))
            .collect();
        Ok(Listing {
            total: users.total + groups.total,
            items,
        })
    }

    /// One user with its groups.
    pub async fn provisioned_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: UserId,
    ) -> ServiceResult<ProvisionedUser> {
        let user = self.get_user(caller, tenant, id).await?;
        let mut found = self.users_with_groups(tenant, vec![user]).await?;
        found.pop().ok_or(ServiceError::NotFound(Resource::User))
    }

    /// Attaches each user's groups, read in one query for all of them.
    pub async fn users_with_groups(
        &self,
        tenant: TenantId,
        users: Vec<User>,
    ) -> ServiceResult<Vec<ProvisionedUser>> {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let refs = self.store.group_refs_of_users(tenant, &ids).await?;
        Ok(users
            .into_iter()
            .map(|user| {
                let groups = refs
                    .iter()
                    .filter(|(member, _, _)| *member == user.id)
                    .map(|(_, group, name)| (*group, name.clone()))
                    .collect();
                ProvisionedUser { user, groups }
            })
            .collect())
    }

    /// The groups matching `filter`: `count` of them after skipping `offset`, with
    /// their members read in one query, and how many match.
    pub async fn provisioned_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: &Filter<GroupAttr>,
        sort: Option<Sort<GroupAttr>>,
        offset: u64,
        count: u32,
    ) -> ServiceResult<Listing<ProvisionedGroup>> {
        self.authorize(caller, tenant, Access::Read).await?;
        let total = self.store.count_groups_matching(tenant, filter).await?;
        let groups = if count == 0 {
            Vec::new()
        } else {
            self.store
                .groups_matching(tenant, filter, sort, offset, count)
                .await?
        };
        let items = self.with_members(tenant, groups).await?;
        Ok(Listing { total, items })
    }

    /// One group with its members.
    pub async fn provisioned_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
    ) -> ServiceResult<ProvisionedGroup> {
        let group = self.get_group(caller, tenant, id).await?;
        let mut found = self.with_members(tenant, vec![group]).await?;
        found.pop().ok_or(ServiceError::NotFound(Resource::Group))
    }

    async fn with_members(
        &self,
        tenant: TenantId,
        groups: Vec<Group>,
    ) -> ServiceResult<Vec<ProvisionedGroup>> {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let refs = self.store.member_ids_of_groups(tenant, &ids).await?;
        Ok(groups
            .into_iter()
            .map(|group| {
                let members = refs
                    .iter()
                    .filter(|(of, _)| *of == group.id)
                    .map(|(_, user)| *user)
                    .collect();
                ProvisionedGroup { group, members }
            })
            .collect())
    }

    /// Creates a group provisioned over SCIM (owner `SCIM`) with its first members,
    /// in one transaction: every member must exist in the tenant, or nothing is made.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_provisioned_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewGroup,
        members: Vec<UserId>,
    ) -> ServiceResult<GroupId> {
        self.authorize(caller, tenant, Access::Write).await?;
        let now = Timestamp::now();
        let group = group_record(
            tenant,
            NewGroup {
                owner: GroupOwner::Scim,
                ..new
            },
            now,
        );
        let mut tx = self.store.begin().await?;
        insert_group(&mut tx, caller, &group).await?;
        let members: Vec<UserId> = members
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        check_users_exist(&mut tx, tenant, &members).await?;
        if !members.is_empty() {
            tx.add_members(tenant, group.id, &members, now).await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::MemberAdd,
                (TargetKind::Group, group.id.to_string()),
                json!({ "userIds": members }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(group.id)
    }

    /// Changes a group's fields and members in one transaction: every named user must
    /// exist in the tenant, or nothing changes. However many members change, the
    /// statements are batched and the group's version rises once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group), err(level = "debug"))]
    pub async fn change_provisioned_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        patch: GroupPatch,
        change: MemberChange,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let (patch, change, precondition) = (&patch, &change, &precondition);
        retry_contended(move || {
            self.try_change_provisioned_group(caller, tenant, group, patch, change, precondition)
        })
        .await
    }

    /// One try of [`Self::change_provisioned_group`]'s transaction.
    async fn try_change_provisioned_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        patch: &GroupPatch,
        change: &MemberChange,
        precondition: &Precondition,
    ) -> Result<(), Attempt> {
        let mut tx = self.store.begin().await?;
        let locked = tx
            .lock_group(tenant, group)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        precondition.check(locked.version)?;
        let mut next = locked.clone();
        patch.clone().apply_to(&mut next);
        let fields_changed = next != locked;
        let current: HashSet<UserId> = tx.member_ids(tenant, group).await?.into_iter().collect();
        let mut wanted = change
            .replace
            .clone()
            .map(|r| r.into_iter().collect::<HashSet<_>>());
        let named: Vec<UserId> = {
            let mut all: HashSet<UserId> = change.add.iter().copied().collect();
            if let Some(replace) = &wanted {
                all.extend(replace.iter().copied());
            }
            all.into_iter().collect()
        };
        check_users_exist(&mut tx, tenant, &named).await?;
        let mut target: HashSet<UserId> = wanted.take().unwrap_or_else(|| current.clone());
        target.extend(change.add.iter().copied());
        for id in &change.remove {
            target.remove(id);
        }
        let mut add: Vec<UserId> = target.difference(&current).copied().collect();
        let mut remove: Vec<UserId> = current.difference(&target).copied().collect();
        add.sort_by_key(|id| id.as_uuid());
        remove.sort_by_key(|id| id.as_uuid());
        let now = Timestamp::now();
        if !add.is_empty() {
            tx.add_members(tenant, group, &add, now).await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::MemberAdd,
                (TargetKind::Group, group.to_string()),
                json!({ "userIds": add }),
            )
            .await?;
        }
        if !remove.is_empty() {
            tx.remove_members(tenant, group, &remove).await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::MemberRemove,
                (TargetKind::Group, group.to_string()),
                json!({ "userIds": remove }),
            )
            .await?;
        }
        if fields_changed || !add.is_empty() || !remove.is_empty() {
            // The members are part of the group's SCIM resource, so its ETag moves.
            next.version = locked.version + 1;
            next.updated_at = now;
            applied(tx.update_group(&next, locked.version).await?)?;
        }
        if fields_changed {
            audit(
                &mut tx,
                caller,
                tenant,
                Action::GroupUpdate,
                (TargetKind::Group, group.to_string()),
                json!({ "name": next.name, "externalId": next.external_id }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Refuses the change when any of `users` is not a user of the tenant.
async fn check_users_exist(tx: &mut Tx, tenant: TenantId, users: &[UserId]) -> ServiceResult<()> {
    let existing: HashSet<UserId> = tx
        .existing_user_ids(tenant, users)
        .await?
        .into_iter()
        .collect();
    match users.iter().find(|id| !existing.contains(id)) {
        Some(missing) => Err(ServiceError::invalid(
            "members",
            format!("no user with id {missing} exists in the tenant"),
        )),
        None => Ok(()),
    }
}
