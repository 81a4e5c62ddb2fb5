//! The one membership-change engine: every change of who belongs to which group,
//! whichever face asks (a group's members patched or replaced, a user's groups added,
//! replaced or removed, one member added or removed, invited users' first groups),
//! runs in one transaction that locks the groups it touches first, in id order, and
//! then the users; writes the memberships in multi-row statements; and audits one
//! event per group and direction. A transaction the database gives up because of
//! concurrent ones is tried again.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, FieldViolation, Filter, GroupId, GroupPatch, TargetKind, TenantId, Timestamp, UserAttr,
    UserId,
};
use crate::store::{StoreError, Tx};

use super::{
    Access, Attempt, Directory, Precondition, Resource, ServiceError, ServiceResult, applied,
    audit, retry_contended,
};

/// A change to a group's members, applied all or nothing.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    /// When set, the members become exactly these (before `add` and `remove`).
    pub replace: Option<Vec<UserId>>,
    pub add: Vec<UserId>,
    pub remove: Vec<UserId>,
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

/// The users of each group in `pairs`, in group, then user, id order.
fn by_group(pairs: &[(GroupId, UserId)]) -> BTreeMap<GroupId, BTreeSet<UserId>> {
    let mut groups: BTreeMap<GroupId, BTreeSet<UserId>> = BTreeMap::new();
    for (group, user) in pairs {
        groups.entry(*group).or_default().insert(*user);
    }
    groups
}

/// Writes `delta` in multi-row statements and audits one event per group and
/// direction (`group.member.add` / `group.member.remove`, with the users' ids). The
/// caller holds the locks. A user or group deleted meanwhile is `missing()`.
pub(super) async fn write_delta(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    delta: &Delta,
    now: Timestamp,
    missing: impl FnOnce() -> ServiceError,
) -> Result<(), Attempt> {
    if !delta.add.is_empty() {
        match tx.add_memberships(tenant, &delta.add, now).await {
            Ok(_) => {}
            Err(StoreError::MissingReference) => return Err(missing().into()),
            Err(other) => return Err(other.into()),
        }
    }
    if !delta.remove.is_empty() {
        tx.remove_memberships(tenant, &delta.remove).await?;
    }
    for (action, pairs) in [
        (Action::MemberAdd, &delta.add),
        (Action::MemberRemove, &delta.remove),
    ] {
        for (group, users) in by_group(pairs) {
            audit(
                tx,
                caller,
                tenant,
                action,
                (TargetKind::Group, group.to_string()),
                json!({ "userIds": users }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Refuses the change when any of `users` is not a user of the tenant.
pub(super) async fn check_users_exist(
    tx: &mut Tx,
    tenant: TenantId,
    users: &[UserId],
) -> ServiceResult<()> {
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

impl Directory {
    /// Changes a group's fields and members in one transaction: every named user must
    /// exist in the tenant, or nothing changes. However many members change, the
    /// statements are batched and the group's version rises once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, group_id = %group), err(level = "debug"))]
    pub async fn change_group(
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
            self.try_change_group(caller, tenant, group, patch, change, precondition)
        })
        .await
    }

    /// One try of [`Self::change_group`]'s transaction.
    async fn try_change_group(
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
        let current: BTreeSet<UserId> = tx.member_ids(tenant, group).await?.into_iter().collect();
        let named: Vec<UserId> = {
            let mut all: BTreeSet<UserId> = change.add.iter().copied().collect();
            if let Some(replace) = &change.replace {
                all.extend(replace.iter().copied());
            }
            all.into_iter().collect()
        };
        check_users_exist(&mut tx, tenant, &named).await?;
        let mut target: BTreeSet<UserId> = match &change.replace {
            Some(replace) => replace.iter().copied().collect(),
            None => current.clone(),
        };
        target.extend(change.add.iter().copied());
        for id in &change.remove {
            target.remove(id);
        }
        let delta = Delta {
            add: target.difference(&current).map(|u| (group, *u)).collect(),
            remove: current.difference(&target).map(|u| (group, *u)).collect(),
        };
        let now = Timestamp::now();
        write_delta(&mut tx, caller, tenant, &delta, now, || {
            ServiceError::invalid("members", "a user named was deleted meanwhile")
        })
        .await?;
        if fields_changed || !delta.is_empty() {
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
        }
        tx.commit().await?;
        Ok(())
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
        // The groups first, in id order, then the user: the order every membership
        // change takes its locks in.
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
            // The group's lock first, as every membership change takes it.
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
