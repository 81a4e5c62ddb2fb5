//! The one membership-change engine: every change of who belongs to which group,
//! whichever face asks (a group's members patched or replaced, a user's groups added,
//! replaced or removed, one member added or removed, invited users' first groups, a
//! group deleted), runs in one transaction. It takes the tenant's membership lock
//! first (shared when only users join or leave groups, exclusive when groups join or
//! leave groups), then the groups it touches, in id order, then the users; writes the
//! memberships in multi-row statements, and with them the effective memberships they
//! bring or end at every depth; and audits one event per group and direction. A change
//! that would make a group a member of itself, directly or through others, is refused.
//! A transaction the database gives up because of concurrent ones is tried again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, FieldViolation, Filter, GroupId, GroupPatch, HierarchyChange, Member, MemberKind,
    MemberRef, TargetKind, TenantId, Timestamp, UserAttr, UserId,
};
use crate::store::{StoreError, Tx};

use super::changes::{group_deleted, group_updated, membership};
use super::{
    Access, Attempt, Directory, Precondition, Resource, ServiceError, ServiceResult, applied,
    audit, retry_contended,
};

/// A change to a group's members (users and groups), applied all or nothing.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    /// When set, the members become exactly these (before `add` and `remove`).
    pub replace: Option<Vec<MemberRef>>,
    pub add: Vec<MemberRef>,
    /// Members to let go; one that is not a member is passed over.
    pub remove: Vec<MemberRef>,
}

impl MemberChange {
    /// Whether the change may move groups within groups: it replaces the members, or
    /// names a member that is (or may be) a group.
    pub(super) fn may_move_groups(&self) -> bool {
        self.replace.is_some()
            || (self.add.iter().chain(&self.remove)).any(|m| m.kind != Some(MemberKind::User))
    }

    /// Every member the change adds or replaces with, each once.
    fn named(&self) -> Vec<MemberRef> {
        let mut seen = HashSet::new();
        (self.replace.iter().flatten())
            .chain(&self.add)
            .filter(|m| seen.insert(m.id))
            .copied()
            .collect()
    }
}

/// How a list of groups changes a user's memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsChange {
    /// Memberships it has stay.
    Add,
    /// Exactly the groups named.
    Replace,
    /// A group it is not a member of is passed over.
    Remove,
}

/// The most groups one request may name: bounds the statement that checks them (and
/// stays far below SQLite's limit on bound parameters).
pub const MAX_GROUPS_PER_REQUEST: usize = 1000;

pub(super) fn too_many_groups() -> ServiceError {
    ServiceError::invalid(
        "",
        format!("name at most {MAX_GROUPS_PER_REQUEST} groups in one request"),
    )
}

/// The refusal for group ids (at their positions in the request) that name no group.
fn unknown_groups(named: &[GroupId], missing: &BTreeSet<GroupId>) -> ServiceError {
    ServiceError::Invalid(
        named
            .iter()
            .enumerate()
            .filter(|(_, id)| missing.contains(id))
            .map(|(i, _)| FieldViolation {
                field: format!("[{i}]"),
                reason: "no group with this id exists in the tenant".into(),
            })
            .collect(),
    )
}

/// The memberships a change adds and removes, as (group, user) pairs, each one that
/// really changes; computed under the change's locks.
#[derive(Debug, Default)]
pub(super) struct Delta {
    pub add: Vec<(GroupId, UserId)>,
    pub remove: Vec<(GroupId, UserId)>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Audits one event per group and direction: the users (`userIds`) and the groups
/// (`groupIds`) that joined (`group.member.add`) or left (`group.member.remove`) it.
pub(super) async fn audit_members(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    users: &Delta,
    groups: &HierarchyChange,
) -> ServiceResult<()> {
    for (action, users, groups) in [
        (Action::MemberAdd, &users.add, &groups.added),
        (Action::MemberRemove, &users.remove, &groups.removed),
    ] {
        let mut by_group: BTreeMap<GroupId, (BTreeSet<UserId>, BTreeSet<GroupId>)> =
            BTreeMap::new();
        for (group, user) in users {
            by_group.entry(*group).or_default().0.insert(*user);
        }
        for (group, member) in groups {
            by_group.entry(*group).or_default().1.insert(*member);
        }
        for (group, (users, groups)) in by_group {
            let added = action == Action::MemberAdd;
            let members = (users.iter().map(|u| Member::User(*u)))
                .chain(groups.iter().map(|g| Member::Group(*g)));
            let changes: Vec<_> = members
                .map(|member| membership(caller, tenant, added, group, member))
                .collect();
            tx.record_changes(changes);
            let mut details = serde_json::Map::new();
            if !users.is_empty() {
                details.insert("userIds".into(), json!(users));
            }
            if !groups.is_empty() {
                details.insert("groupIds".into(), json!(groups));
            }
            audit(
                tx,
                caller,
                tenant,
                action,
                (TargetKind::Group, group.to_string()),
                details.into(),
            )
            .await?;
        }
    }
    Ok(())
}

/// Writes `delta` in multi-row statements (with the effective memberships it brings
/// or ends) and audits it. The caller holds the tenant's membership lock and the
/// groups'. A user or group deleted meanwhile is `missing()`.
pub(super) async fn write_delta(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    delta: &Delta,
    now: Timestamp,
    missing: impl FnOnce() -> ServiceError,
) -> Result<(), Attempt> {
    write_users(tx, tenant, delta, now, missing).await?;
    audit_members(tx, caller, tenant, delta, &HierarchyChange::default()).await?;
    Ok(())
}

/// Writes `delta` without auditing it.
async fn write_users(
    tx: &mut Tx,
    tenant: TenantId,
    delta: &Delta,
    now: Timestamp,
    missing: impl FnOnce() -> ServiceError,
) -> Result<(), Attempt> {
    if !delta.add.is_empty() {
        match tx.add_memberships(tenant, &delta.add, now).await {
            Ok(()) => {}
            Err(StoreError::MissingReference) => return Err(missing().into()),
            Err(other) => return Err(other.into()),
        }
    }
    if !delta.remove.is_empty() {
        tx.remove_memberships(tenant, &delta.remove).await?;
    }
    Ok(())
}

/// The members `named` as they are: each a user or a group of the tenant, or the
/// change is refused naming the first that is neither (or not of its stated kind).
async fn resolve(tx: &mut Tx, tenant: TenantId, named: &[MemberRef]) -> ServiceResult<Vec<Member>> {
    let ids = |kind: MemberKind| -> Vec<uuid::Uuid> {
        (named.iter())
            .filter(|m| m.kind.is_none_or(|k| k == kind))
            .map(|m| m.id)
            .collect()
    };
    let users: HashSet<uuid::Uuid> = (tx.existing_user_ids(tenant, &ids(MemberKind::User)).await?)
        .into_iter()
        .map(|u| u.as_uuid())
        .collect();
    let maybe_groups: Vec<uuid::Uuid> = (ids(MemberKind::Group).into_iter())
        .filter(|id| !users.contains(id))
        .collect();
    let groups: HashSet<uuid::Uuid> = (tx.existing_group_ids(tenant, &maybe_groups).await?)
        .into_iter()
        .map(|g| g.as_uuid())
        .collect();
    named
        .iter()
        .map(|m| {
            if users.contains(&m.id) {
                Ok(Member::User(UserId::from_uuid(m.id)))
            } else if groups.contains(&m.id) {
                Ok(Member::Group(GroupId::from_uuid(m.id)))
            } else {
                let what = match m.kind {
                    Some(MemberKind::User) => "user",
                    Some(MemberKind::Group) => "group",
                    None => "user or group",
                };
                Err(ServiceError::invalid(
                    "members",
                    format!("no {what} with id {} exists in the tenant", m.id),
                ))
            }
        })
        .collect()
}

/// A group's direct members as a change finds them, under its locks.
#[derive(Debug, Clone, Default)]
pub(super) struct Members {
    users: BTreeSet<UserId>,
    groups: BTreeSet<GroupId>,
}

impl Members {
    async fn of(tx: &mut Tx, tenant: TenantId, group: GroupId) -> ServiceResult<Self> {
        Ok(Members {
            users: tx.member_ids(tenant, group).await?.into_iter().collect(),
            groups: tx
                .member_group_ids(tenant, group)
                .await?
                .into_iter()
                .collect(),
        })
    }

    fn with(mut self, members: impl Iterator<Item = Member>) -> Self {
        for member in members {
            match member {
                Member::User(user) => self.users.insert(user),
                Member::Group(group) => self.groups.insert(group),
            };
        }
        self
    }
}

/// Applies `change` to the locked `group` whose members are `current`: the users'
/// memberships, then the hierarchy (checked for cycles), each audited. The caller
/// holds the tenant's membership lock, exclusive when the change may move groups.
/// Answers whether any member changed.
pub(super) async fn apply_member_change(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    group: GroupId,
    current: Members,
    change: &MemberChange,
    now: Timestamp,
) -> Result<bool, Attempt> {
    let named = resolve(tx, tenant, &change.named()).await?;
    let named: HashMap<uuid::Uuid, Member> = named.into_iter().map(|m| (m.id(), m)).collect();
    let mut target = match &change.replace {
        Some(replace) => Members::default().with(replace.iter().map(|m| named[&m.id])),
        None => current.clone(),
    }
    .with(change.add.iter().map(|m| named[&m.id]));
    for member in &change.remove {
        if member.kind != Some(MemberKind::Group) {
            target.users.remove(&UserId::from_uuid(member.id));
        }
        if member.kind != Some(MemberKind::User) {
            target.groups.remove(&GroupId::from_uuid(member.id));
        }
    }
    let users = Delta {
        add: (target.users.difference(&current.users))
            .map(|u| (group, *u))
            .collect(),
        remove: (current.users.difference(&target.users))
            .map(|u| (group, *u))
            .collect(),
    };
    let added: Vec<(GroupId, GroupId)> = (target.groups.difference(&current.groups))
        .map(|g| (group, *g))
        .collect();
    let removed: Vec<(GroupId, GroupId)> = (current.groups.difference(&target.groups))
        .map(|g| (group, *g))
        .collect();
    let groups = if added.is_empty() && removed.is_empty() {
        HierarchyChange::default()
    } else {
        tx.hierarchy(tenant)
            .await?
            .change(&added, &removed)
            .map_err(ServiceError::Cycle)?
    };
    write_users(tx, tenant, &users, now, || {
        ServiceError::invalid("members", "a member named was deleted meanwhile")
    })
    .await?;
    if !groups.is_empty() {
        match tx.write_hierarchy_change(tenant, &groups, now).await {
            Ok(()) => {}
            Err(StoreError::MissingReference) => {
                return Err(ServiceError::invalid(
                    "members",
                    "a member named was deleted meanwhile",
                )
                .into());
            }
            Err(other) => return Err(other.into()),
        }
    }
    audit_members(tx, caller, tenant, &users, &groups).await?;
    Ok(!users.is_empty() || !groups.is_empty())
}

impl Directory {
    /// Changes a group's fields and members in one transaction: every named user must
    /// exist in the tenant, or nothing changes. However many members change, the
    /// statements are batched and the group's version rises once. Answers whether
    /// any member changed.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group), err(level = "debug"))]
    pub async fn change_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        patch: GroupPatch,
        change: MemberChange,
        precondition: Precondition,
    ) -> ServiceResult<bool> {
        self.authorize(caller, tenant, Access::Write).await?;
        let (patch, change, precondition) = (&patch, &change, &precondition);
        retry_contended(move || {
            self.try_change_group(caller, tenant, group, patch, change, precondition)
        })
        .await
    }

    /// Makes `member` a member group of `group`; adding it again changes nothing,
    /// and one that would make a cycle is refused.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group, member_id = %member), err(level = "debug"))]
    pub async fn add_member_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        member: GroupId,
    ) -> ServiceResult<()> {
        self.member_group_change(caller, tenant, group, member, true)
            .await
            .map(|_| ())
    }

    /// Takes `member` out of `group`'s member groups; one that is not a member is
    /// not found.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group, member_id = %member), err(level = "debug"))]
    pub async fn remove_member_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        member: GroupId,
    ) -> ServiceResult<()> {
        match self
            .member_group_change(caller, tenant, group, member, false)
            .await?
        {
            true => Ok(()),
            false => Err(ServiceError::NotFound(Resource::Membership)),
        }
    }

    /// Adds or removes one member group; answers whether it changed anything.
    async fn member_group_change(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        member: GroupId,
        add: bool,
    ) -> ServiceResult<bool> {
        self.authorize(caller, tenant, Access::Write).await?;
        // A member group named in the path that does not exist is not found.
        self.find_group(tenant, member).await?;
        let named = vec![Member::Group(member).into()];
        let change = match add {
            true => MemberChange {
                add: named,
                ..MemberChange::default()
            },
            false => MemberChange {
                remove: named,
                ..MemberChange::default()
            },
        };
        let patch = GroupPatch::default();
        (self.change_group(caller, tenant, group, patch, change, Precondition::None)).await
    }

    /// One try of [`Self::change_group`]'s transaction; answers whether any member
    /// changed.
    async fn try_change_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        patch: &GroupPatch,
        change: &MemberChange,
        precondition: &Precondition,
    ) -> Result<bool, Attempt> {
        let mut tx = self.store.begin().await?;
        tx.lock_memberships(tenant, change.may_move_groups())
            .await?;
        let locked = tx
            .lock_group(tenant, group)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Group))?;
        precondition.check(locked.version)?;
        let mut next = locked.clone();
        patch.clone().apply_to(&mut next);
        let fields_changed = next != locked;
        let current = Members::of(&mut tx, tenant, group).await?;
        let now = Timestamp::now();
        let members_changed =
            apply_member_change(&mut tx, caller, tenant, group, current, change, now).await?;
        if fields_changed || members_changed {
            // The members are part of the group's resource, so its ETag moves.
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
            tx.record_changes([group_updated(caller, &locked, &next)]);
        }
        tx.commit().await?;
        Ok(members_changed)
    }

    /// Deletes the group: it leaves the groups it is a member of (whose versions
    /// move), its members leave it, and every effective membership that came through
    /// it ends, in one transaction. The audit event names the group's users, member
    /// groups and parents.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %id), err(level = "debug"))]
    pub async fn delete_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: GroupId,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let precondition = &precondition;
        retry_contended(move || async move {
            let mut tx = self.store.begin().await?;
            tx.lock_memberships(tenant, true).await?;
            let hierarchy = tx.hierarchy(tenant).await?;
            let parents: Vec<GroupId> = hierarchy.parents_of(id).collect();
            let mut locking = parents.clone();
            locking.push(id);
            locking.sort();
            tx.lock_groups(tenant, &locking).await?;
            let current = tx
                .lock_group(tenant, id)
                .await?
                .ok_or(ServiceError::NotFound(Resource::Group))?;
            precondition.check(current.version)?;
            let members = Members::of(&mut tx, tenant, id).await?;
            let users = Delta {
                add: Vec::new(),
                remove: members.users.iter().map(|u| (id, *u)).collect(),
            };
            let edges: Vec<(GroupId, GroupId)> = (parents.iter().map(|p| (*p, id)))
                .chain(members.groups.iter().map(|g| (id, *g)))
                .collect();
            let groups = hierarchy.change(&[], &edges).map_err(ServiceError::Cycle)?;
            let now = Timestamp::now();
            write_users(&mut tx, tenant, &users, now, || {
                ServiceError::NotFound(Resource::Group)
            })
            .await?;
            tx.write_hierarchy_change(tenant, &groups, now).await?;
            tx.bump_group_versions(tenant, &parents, now).await?;
            applied(tx.delete_group(tenant, id, current.version).await?)?;
            // The parents lost a member; the group's own members went with it.
            let left_parents = HierarchyChange {
                removed: parents.iter().map(|p| (*p, id)).collect(),
                ..HierarchyChange::default()
            };
            audit_members(&mut tx, caller, tenant, &Delta::default(), &left_parents).await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::GroupDelete,
                (TargetKind::Group, id.to_string()),
                json!({
                    "name": current.name,
                    "userIds": members.users,
                    "groupIds": members.groups,
                    "parentIds": parents,
                }),
            )
            .await?;
            tx.record_changes([group_deleted(caller, tenant, id)]);
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Changes the groups of the user matching `user` (an email, an id) by the groups
    /// `named`. All of it applies, or (an unknown group named, answered at its
    /// positions) none.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, change = ?how), err(level = "debug"))]
    pub async fn change_user_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: Filter<UserAttr>,
        named: &[GroupId],
        how: GroupsChange,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        if named.len() > MAX_GROUPS_PER_REQUEST {
            return Err(too_many_groups());
        }
        let user = self.find_one(tenant, user).await?.user.id;
        let wanted: BTreeSet<GroupId> = named.iter().copied().collect();
        let wanted = &wanted;
        retry_contended(move || {
            self.try_change_user_groups(caller, tenant, user, named, wanted, how)
        })
        .await
    }

    /// One try of [`Self::change_user_groups`]'s transaction, for the user `user`
    /// and the distinct groups `wanted` of those `named`.
    async fn try_change_user_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: UserId,
        named: &[GroupId],
        wanted: &BTreeSet<GroupId>,
        how: GroupsChange,
    ) -> Result<(), Attempt> {
        let mut tx = self.store.begin().await?;
        // The tenant's membership lock, the groups in id order, then the user: the
        // order every membership change takes its locks in.
        tx.lock_memberships(tenant, false).await?;
        let mut touched = wanted.clone();
        if how != GroupsChange::Add {
            touched.extend(tx.group_ids_of_user(tenant, user).await?);
        }
        let touched: Vec<GroupId> = touched.into_iter().collect();
        let locked: BTreeSet<GroupId> = tx
            .lock_groups(tenant, &touched)
            .await?
            .into_iter()
            .collect();
        tx.lock_user(tenant, user)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        let missing: BTreeSet<GroupId> = wanted.difference(&locked).copied().collect();
        if !missing.is_empty() {
            return Err(unknown_groups(named, &missing).into());
        }
        let current: BTreeSet<GroupId> = tx
            .group_ids_of_user(tenant, user)
            .await?
            .into_iter()
            .collect();
        let pairs = |groups: BTreeSet<&GroupId>| groups.into_iter().map(|g| (*g, user)).collect();
        let delta = match how {
            GroupsChange::Add => Delta {
                add: pairs(wanted.difference(&current).collect()),
                remove: Vec::new(),
            },
            GroupsChange::Remove => Delta {
                add: Vec::new(),
                remove: pairs(wanted.intersection(&current).collect()),
            },
            GroupsChange::Replace => Delta {
                add: pairs(wanted.difference(&current).collect()),
                remove: pairs(current.difference(wanted).collect()),
            },
        };
        let deleted: BTreeSet<GroupId> = delta.add.iter().map(|(g, _)| *g).collect();
        write_delta(&mut tx, caller, tenant, &delta, Timestamp::now(), || {
            // A group deleted since the check above.
            unknown_groups(named, &deleted)
        })
        .await?;
        tx.commit().await?;
        Ok(())
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
        self.member_change(caller, tenant, group, user, true).await
    }

    /// Ends `user`'s membership of `group` (and with it a default-group mark); one
    /// that does not exist is not found.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group, user_id = %user), err(level = "debug"))]
    pub async fn remove_member(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        user: UserId,
    ) -> ServiceResult<()> {
        self.member_change(caller, tenant, group, user, false).await
    }

    async fn member_change(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        user: UserId,
        add: bool,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        self.find_group(tenant, group).await?;
        self.find_user(tenant, user).await?;
        retry_contended(move || async move {
            let mut tx = self.store.begin().await?;
            // The tenant's membership lock, then the group's, as every membership
            // change takes them.
            tx.lock_memberships(tenant, false).await?;
            tx.lock_group(tenant, group)
                .await?
                .ok_or(ServiceError::NotFound(Resource::Group))?;
            let member = tx.group_ids_of_user(tenant, user).await?.contains(&group);
            let delta = match (add, member) {
                (true, false) => Delta {
                    add: vec![(group, user)],
                    remove: Vec::new(),
                },
                (false, true) => Delta {
                    add: Vec::new(),
                    remove: vec![(group, user)],
                },
                (false, false) => return Err(ServiceError::NotFound(Resource::Membership).into()),
                (true, true) => Delta::default(),
            };
            // Deleted between the lookups above and the insert.
            write_delta(&mut tx, caller, tenant, &delta, Timestamp::now(), || {
                ServiceError::NotFound(Resource::User)
            })
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_groups_are_named_at_their_positions() {
        let (a, b) = (GroupId::generate(), GroupId::generate());
        let ServiceError::Invalid(fields) = unknown_groups(&[a, b, b], &BTreeSet::from([b])) else {
            panic!("not invalid");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["[1]", "[2]"]);
    }
}
