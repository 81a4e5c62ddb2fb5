use std::collections::HashMap;

use futures_util::{Stream, stream};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, Filter, Group, GroupAttr, GroupId, GroupPatch, Member, MemberRef, NewGroup, Page,
    PageRequest, Sort, TargetKind, TenantId, Timestamp, UserAttr, UserQuery, Window,
};
use crate::store::Tx;

use super::changes::{group_created, group_updated};
use super::memberships::{
    MAX_GROUPS_PER_REQUEST, MemberChange, Members, apply_member_change, too_many_groups,
};
use super::users::{UserWithGroups, chunk_limit};
use super::{
    Access, Directory, Precondition, Resource, ServiceError, ServiceResult, applied, audit,
    retry_contended,
};

/// A group with its direct members, users and groups.
#[derive(Debug, Clone)]
pub struct GroupWithMembers {
    pub group: Group,
    pub members: Vec<Member>,
}

/// A user or a group, as a search across object types answers them.
#[derive(Debug, Clone)]
pub enum DirectoryObject {
    /// Boxed: a user with its profile is several times a group's size.
    User(Box<UserWithGroups>),
    Group(GroupWithMembers),
}

/// One numbered window of a filtered list, and how many match in all.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub total: i64,
    pub items: Vec<T>,
}

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
    .await?;
    tx.record_changes([group_created(caller, group)]);
    Ok(())
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
        tx.record_changes([group_updated(caller, &current, &next)]);
        tx.commit().await?;
        Ok(next)
    }
}

impl Directory {
    /// The groups matching `filter`: `count` of them after skipping `offset`, with
    /// their members read in one query, and how many match.
    pub async fn groups_with_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: &Filter<GroupAttr>,
        sort: Option<Sort<GroupAttr>>,
        offset: u64,
        count: u32,
    ) -> ServiceResult<Listing<GroupWithMembers>> {
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
    pub async fn group_with_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
    ) -> ServiceResult<GroupWithMembers> {
        let group = self.get_group(caller, tenant, id).await?;
        let mut found = self.with_members(tenant, vec![group]).await?;
        found.pop().ok_or(ServiceError::NotFound(Resource::Group))
    }

    async fn with_members(
        &self,
        tenant: TenantId,
        groups: Vec<Group>,
    ) -> ServiceResult<Vec<GroupWithMembers>> {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let mut members: HashMap<GroupId, Vec<Member>> = HashMap::new();
        for (group, member) in self.store.members_of_groups(tenant, &ids).await? {
            members.entry(group).or_default().push(member);
        }
        Ok(groups
            .into_iter()
            .map(|group| {
                let members = members.remove(&group.id).unwrap_or_default();
                GroupWithMembers { group, members }
            })
            .collect())
    }

    /// The users matching `users` and then the groups matching `groups`, each in id
    /// order, as one list: `count` of them after skipping `offset`, and how many
    /// match in all. Each part is read as its own list is, so the window is found
    /// through the tenant's indexes however it falls across the two.
    pub async fn users_and_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        users: Filter<UserAttr>,
        groups: &Filter<GroupAttr>,
        offset: u64,
        count: u32,
    ) -> ServiceResult<Listing<DirectoryObject>> {
        let query = UserQuery {
            filter: users,
            sort: None,
            window: Window::Numbered {
                offset,
                count,
                total: true,
            },
            include: crate::domain::Include::Groups,
        };
        let users = self.users(caller, tenant, &query).await?;
        let user_total = users.total.unwrap_or_default();
        let left = count.saturating_sub(u32::try_from(users.users.len()).unwrap_or(count));
        let groups = self
            .groups_with_members(
                caller,
                tenant,
                groups,
                None,
                offset.saturating_sub(u64::try_from(user_total).unwrap_or_default()),
                left,
            )
            .await?;
        let items = (users.users.into_iter())
            .map(|user| DirectoryObject::User(Box::new(user)))
            .chain(groups.items.into_iter().map(DirectoryObject::Group))
            .collect();
        Ok(Listing {
            total: user_total + groups.total,
            items,
        })
    }

    /// Creates a group with its first members (users and groups), in one
    /// transaction: every member must exist in the tenant, or nothing is made.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_group_with_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewGroup,
        members: Vec<MemberRef>,
    ) -> ServiceResult<GroupId> {
        self.authorize(caller, tenant, Access::Write).await?;
        let now = Timestamp::now();
        let group = group_record(tenant, new, now);
        let change = MemberChange {
            add: members,
            ..MemberChange::default()
        };
        let (group, change) = (&group, &change);
        retry_contended(move || async move {
            let mut tx = self.store.begin().await?;
            tx.lock_memberships(tenant, change.may_move_groups())
                .await?;
            insert_group(&mut tx, caller, group).await?;
            let current = Members::default();
            apply_member_change(&mut tx, caller, tenant, group.id, current, change, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(group.id)
    }

    /// Creates every group named, in order, in one transaction: a refused one (a
    /// taken name) leaves none created.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, count = new.len()), err(level = "debug"))]
    pub async fn create_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: Vec<NewGroup>,
    ) -> ServiceResult<Vec<Group>> {
        self.authorize(caller, tenant, Access::Write).await?;
        if new.is_empty() {
            return Err(ServiceError::invalid("", "name at least one group"));
        }
        if new.len() > MAX_GROUPS_PER_REQUEST {
            return Err(too_many_groups());
        }
        let now = Timestamp::now();
        let groups: Vec<Group> = new
            .into_iter()
            .map(|new| group_record(tenant, new, now))
            .collect();
        let mut tx = self.store.begin().await?;
        for group in &groups {
            insert_group(&mut tx, caller, group).await?;
        }
        tx.commit().await?;
        Ok(groups)
    }

    /// Every group of the tenant in id order, read as keyset pages: memory holds one
    /// chunk however large the tenant.
    pub async fn stream_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
    ) -> ServiceResult<impl Stream<Item = ServiceResult<Vec<Group>>> + Send + 'static> {
        self.authorize(caller, tenant, Access::Read).await?;
        let store = self.store.clone();
        let start = PageRequest {
            limit: chunk_limit(),
            after: None,
        };
        Ok(stream::try_unfold(Some(start), move |page| {
            let store = store.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                let rows = store.list_groups(tenant, None, page).await?;
                let page_of = Page::from_rows(rows, page.limit, |g| g.id.as_uuid());
                if page_of.items.is_empty() {
                    return Ok(None);
                }
                let next = page_of.next.map(|after| PageRequest {
                    after: Some(after),
                    ..page
                });
                Ok(Some((page_of.items, next)))
            }
        }))
    }
}
