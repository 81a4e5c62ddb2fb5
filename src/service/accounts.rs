//! Account-level views and bulk changes: users with their groups in numbered pages,
//! users found by email, and the membership and group changes that apply a whole list
//! at once (all of it in one transaction, or nothing). Dynatrace's account management
//! API is built on these; nothing here knows that face.

use std::collections::BTreeSet;

use futures_util::{Stream, stream};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, Email, Group, GroupId, NewGroup, NumberedPage, Page, PageLimit, PageRequest,
    TargetKind, Tenant, TenantId, Timestamp, User, UserFilter, UserId,
};
use crate::store::StoreError;

use super::groups::{group_record, insert_group};
use super::stream::attach_to_users;
use super::{
    Access, Attempt, Directory, Resource, ServiceError, ServiceResult, audit, retry_contended,
};

/// A user with its groups, in group id order.
#[derive(Debug, Clone)]
pub struct UserWithGroups {
    pub user: User,
    pub groups: Vec<Group>,
}

/// One numbered page of an account's users with their groups, and the account.
#[derive(Debug, Clone)]
pub struct AccountUsers {
    pub account: Tenant,
    pub users: Vec<UserWithGroups>,
}

/// Users per chunk of a streamed member list.
const CHUNK: u32 = 500;

/// The most groups one request may name: bounds the statement that checks them (and
/// stays far below SQLite's limit on bound parameters).
pub const MAX_GROUPS_PER_REQUEST: usize = 1000;

fn too_many_groups() -> ServiceError {
    ServiceError::invalid(
        "",
        format!("name at most {MAX_GROUPS_PER_REQUEST} groups in one request"),
    )
}

/// The distinct ids of `ids`, in id order.
fn distinct(ids: &[GroupId]) -> Vec<GroupId> {
    ids.iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The refusal for group ids (at their positions in the request) that name no group.
fn unknown_groups(named: &[GroupId], missing: &BTreeSet<GroupId>) -> ServiceError {
    ServiceError::Invalid(
        named
            .iter()
            .enumerate()
            .filter(|(_, id)| missing.contains(id))
            .map(|(i, _)| crate::domain::FieldViolation {
                field: format!("[{i}]"),
                reason: "no group with this id exists in the account".into(),
            })
            .collect(),
    )
}

impl Directory {
    /// The account (tenant) the caller reads, or not found.
    pub async fn get_account(&self, caller: &Caller, tenant: TenantId) -> ServiceResult<Tenant> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.store
            .get_tenant(tenant)
            .await?
            .ok_or(ServiceError::NotFound(Resource::Tenant))
    }

    /// A numbered page of the account's users in id order, each with its groups. The
    /// page's groups come from one query over the page's id range.
    pub async fn account_users_with_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: NumberedPage,
    ) -> ServiceResult<AccountUsers> {
        let account = self.get_account(caller, tenant).await?;
        let users = self
            .store
            .list_users_at(tenant, page.offset(), page.size.get())
            .await?;
        let users = self.with_groups(tenant, users).await?;
        Ok(AccountUsers { account, users })
    }

    /// Attaches their groups to users read in id order, with one query.
    async fn with_groups(
        &self,
        tenant: TenantId,
        users: Vec<User>,
    ) -> ServiceResult<Vec<UserWithGroups>> {
        let (Some(first), Some(last)) = (users.first(), users.last()) else {
            return Ok(Vec::new());
        };
        let memberships = self
            .store
            .groups_of_user_range(tenant, first.id, last.id)
            .await?;
        Ok(attach_to_users(users, memberships)
            .into_iter()
            .map(|(user, groups)| UserWithGroups { user, groups })
            .collect())
    }

    /// The tenant's user with this email (in any letter case).
    pub(super) async fn find_user_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> ServiceResult<User> {
        let filter = UserFilter {
            email: Some(email.clone()),
            ..UserFilter::default()
        };
        let request = PageRequest {
            limit: PageLimit::new(1).unwrap_or_default(),
            after: None,
        };
        self.store
            .list_users(tenant, &filter, request)
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound(Resource::User))
    }

    /// The user with this email, with its groups, and the account.
    pub async fn user_with_groups_by_email(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
    ) -> ServiceResult<(Tenant, UserWithGroups)> {
        let account = self.get_account(caller, tenant).await?;
        let user = self.find_user_by_email(tenant, email).await?;
        let mut users = self.with_groups(tenant, vec![user]).await?;
        let user = users.pop().ok_or(ServiceError::NotFound(Resource::User))?;
        Ok((account, user))
    }

    /// Deletes the user with this email and its memberships.
    pub async fn delete_user_by_email(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let user = self.find_user_by_email(tenant, email).await?;
        self.delete_user(caller, tenant, user.id, super::Precondition::None)
            .await
    }

    /// Makes the user with this email a member of every group named; memberships it
    /// already has stay. All of it applies, or (an unknown group named) none.
    pub async fn add_user_to_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
        groups: &[GroupId],
    ) -> ServiceResult<()> {
        self.change_user_groups(caller, tenant, email, groups, GroupChange::Add)
            .await
    }

    /// Makes the user with this email a member of exactly the groups named. All of
    /// it applies, or (an unknown group named) none.
    pub async fn replace_user_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
        groups: &[GroupId],
    ) -> ServiceResult<()> {
        self.change_user_groups(caller, tenant, email, groups, GroupChange::Replace)
            .await
    }

    /// Ends the user's membership of every group named; a group it is not a member
    /// of is passed over. All of it applies, or (an unknown group named) none.
    pub async fn remove_user_from_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
        groups: &[GroupId],
    ) -> ServiceResult<()> {
        self.change_user_groups(caller, tenant, email, groups, GroupChange::Remove)
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, change = ?change), err(level = "debug"))]
    async fn change_user_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        email: &Email,
        named: &[GroupId],
        change: GroupChange,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        if named.len() > MAX_GROUPS_PER_REQUEST {
            return Err(too_many_groups());
        }
        let user = self.find_user_by_email(tenant, email).await?;
        let wanted = distinct(named);
        let wanted = wanted.as_slice();
        retry_contended(move || {
            self.try_change_user_groups(caller, tenant, user.id, named, wanted, change)
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
        wanted: &[GroupId],
        change: GroupChange,
    ) -> Result<(), Attempt> {
        let mut tx = self.store.begin().await?;
        // The groups first, in id order, then the user: the order every membership
        // change takes its locks in, whichever face starts it.
        let mut touched: BTreeSet<GroupId> = wanted.iter().copied().collect();
        if change != GroupChange::Add {
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
        let existing: BTreeSet<GroupId> = wanted
            .iter()
            .filter(|id| locked.contains(id))
            .copied()
            .collect();
        let missing: BTreeSet<GroupId> = wanted
            .iter()
            .filter(|id| !existing.contains(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(unknown_groups(named, &missing).into());
        }
        let current: BTreeSet<GroupId> = tx
            .group_ids_of_user(tenant, user)
            .await?
            .into_iter()
            .collect();
        let (add, remove): (Vec<GroupId>, Vec<GroupId>) = match change {
            GroupChange::Add => (existing.difference(&current).copied().collect(), vec![]),
            GroupChange::Remove => (vec![], existing.intersection(&current).copied().collect()),
            GroupChange::Replace => (
                existing.difference(&current).copied().collect(),
                current.difference(&existing).copied().collect(),
            ),
        };
        let now = Timestamp::now();
        for group in add {
            match tx.add_member(tenant, group, user, now).await {
                Ok(_) => {}
                // Deleted since the check above.
                Err(StoreError::MissingReference) => {
                    return Err(unknown_groups(named, &BTreeSet::from([group])).into());
                }
                Err(other) => return Err(other.into()),
            }
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
        for group in remove {
            tx.remove_member(tenant, group, user).await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::MemberRemove,
                (TargetKind::Group, group.to_string()),
                json!({ "userId": user }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
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

    /// Every member of the group in id order, chunk by chunk; the group must exist.
    pub async fn stream_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
    ) -> ServiceResult<impl Stream<Item = ServiceResult<Vec<User>>> + Send + 'static> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.find_group(tenant, group).await?;
        let store = self.store.clone();
        let filter = UserFilter {
            group_id: Some(group),
            ..UserFilter::default()
        };
        let start = PageRequest {
            limit: PageLimit::new(CHUNK).unwrap_or_default(),
            after: None,
        };
        Ok(stream::try_unfold(Some(start), move |page| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                let rows = store.list_users(tenant, &filter, page).await?;
                let page_of = Page::from_rows(rows, page.limit, |u| u.id.as_uuid());
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

/// How a list of groups changes a user's memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupChange {
    Add,
    Replace,
    Remove,
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
