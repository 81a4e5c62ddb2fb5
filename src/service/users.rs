use std::collections::HashMap;

use futures_util::{Stream, stream};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, AttributeDefinition, AuditEvent, Email, Filter, Group, GroupId, GroupsRelated, Include,
    LoginMetadata, NewUser, Page, PageCursor, PageLimit, PageRequest, Patch, PersonName, Profile,
    Role, Status, TargetKind, TenantId, Timestamp, User, UserAttr, UserId, UserName, UserPatch,
    UserQuery, Window,
};
use crate::store::{Store, StoreError, Tx};

use super::attributes::{applied_attribute_write, store_attribute_values};
use super::changes::{user_created, user_deleted, user_updated};
use super::memberships::{Delta, write_delta};
use super::{
    Access, Attempt, Directory, Precondition, Resource, ServiceError, ServiceResult, applied,
    audit, audit_event,
};

/// Users (or groups) per chunk of a streamed list: large enough to amortise the
/// query, small enough that a chunk's memory is negligible.
pub(super) const CHUNK: u32 = 500;

pub(super) fn chunk_limit() -> PageLimit {
    PageLimit::new(CHUNK).unwrap_or_default()
}

/// A user with the groups it belongs to at any depth, in group id order (none unless
/// asked for): the one shape every face reads users in.
#[derive(Debug, Clone)]
pub struct UserWithGroups {
    pub user: User,
    pub groups: Vec<MemberOf>,
}

/// A group a user belongs to: directly, or only through a group within it.
#[derive(Debug, Clone)]
pub struct MemberOf {
    pub group: Group,
    pub direct: bool,
}

impl UserWithGroups {
    /// The user and the groups it is a direct member of: what the faces whose
    /// products know no nesting show, so that what their clients read back and
    /// write is what they wrote.
    pub fn into_direct(self) -> (User, Vec<Group>) {
        let groups = (self.groups.into_iter())
            .filter(|g| g.direct)
            .map(|g| g.group)
            .collect();
        (self.user, groups)
    }
}

/// The window of users a [`UserQuery`] asked for.
#[derive(Debug, Clone)]
pub struct UserList {
    pub users: Vec<UserWithGroups>,
    /// Where the next keyset page starts; `None` on the last, and for a numbered
    /// window.
    pub next: Option<PageCursor>,
    /// How many users match in all, when a numbered window asked for it.
    pub total: Option<i64>,
}

/// The one read of users, [`Directory::users`], without its authorization: the
/// chunks of a stream and the lookups of callers already authorized read through it.
pub(super) async fn read_users(
    store: &Store,
    tenant: TenantId,
    query: &UserQuery,
) -> ServiceResult<UserList> {
    let total = match query.window {
        Window::Numbered { total: true, .. } => {
            Some(store.count_users(tenant, &query.filter).await?)
        }
        _ => None,
    };
    let rows = store.list_users(tenant, query).await?;
    let (users, next) = match query.window {
        Window::After { limit, .. } => {
            let page = Page::from_rows(rows, limit, |u| u.id.as_uuid());
            (page.items, page.next)
        }
        Window::Numbered { .. } => (rows, None),
    };
    let users = with_groups(store, tenant, users, query.include).await?;
    Ok(UserList { users, next, total })
}

/// Gives each user its groups, read in one statement for all of them.
pub(super) async fn with_groups(
    store: &Store,
    tenant: TenantId,
    users: Vec<User>,
    include: Include,
) -> ServiceResult<Vec<UserWithGroups>> {
    let memberships = match include {
        Include::Groups if !users.is_empty() => {
            let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
            store.groups_of_users(tenant, &ids).await?
        }
        _ => Vec::new(),
    };
    let mut by_user: HashMap<UserId, Vec<MemberOf>> = HashMap::new();
    for found in memberships {
        by_user.entry(found.user).or_default().push(MemberOf {
            group: found.group,
            direct: found.direct,
        });
    }
    Ok(users
        .into_iter()
        .map(|user| {
            let groups = by_user.remove(&user.id).unwrap_or_default();
            UserWithGroups { user, groups }
        })
        .collect())
}

/// The names of the profile fields that differ between two versions of a user.
fn changed_fields(before: &User, after: &User) -> Vec<&'static str> {
    [
        (before.email != after.email, "email"),
        (before.user_name != after.user_name, "userName"),
        (before.first_name != after.first_name, "firstName"),
        (before.last_name != after.last_name, "lastName"),
        (before.profile != after.profile, "profile"),
        (before.attributes != after.attributes, "attributes"),
        (before.role != after.role, "role"),
        (before.status != after.status, "status"),
        (before.external_id != after.external_id, "externalId"),
        (
            before.default_group_id != after.default_group_id,
            "defaultGroupId",
        ),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect()
}

/// Checks the profile of a user about to be written against the rules of its
/// attributes. A manager is kept as the id written: one that is no user of the
/// tenant (not yet provisioned, or deleted) is shown without a display name, and
/// only a user of the same tenant ever gives one.
fn check_profile(user: &mut User) -> ServiceResult<()> {
    user.profile
        .check()
        .map_err(|v| ServiceError::invalid(&v.field, v.reason))
}

/// Applies `patch` to the locked `current` user and writes it with its audit event;
/// answers the user as stored (unchanged when the patch changes nothing).
pub(super) async fn write_user_change(
    tx: &mut Tx,
    caller: &Caller,
    current: User,
    mut patch: UserPatch,
    declared: &[AttributeDefinition],
) -> ServiceResult<User> {
    let (tenant, id) = (current.tenant_id, current.id);
    let unknown_group = || {
        ServiceError::invalid(
            "defaultGroupId",
            "no group with this id exists in the tenant",
        )
    };
    let mut next = current.clone();
    let default_group = patch.default_group_id.clone();
    let (attributes, changed_attributes) = applied_attribute_write(
        declared,
        &current.attributes,
        std::mem::take(&mut patch.attributes),
        false,
    )?;
    next.attributes = attributes;
    patch.apply_to(&mut next);
    default_group.apply(&mut next.default_group_id, |g| g);
    let changed = changed_fields(&current, &next);
    if changed.is_empty() {
        return Ok(current);
    }
    check_profile(&mut next)?;
    let now = Timestamp::now();
    next.version = current.version + 1;
    next.updated_at = now;
    applied(tx.update_user(&next, current.version).await?)?;
    store_attribute_values(
        tx,
        tenant,
        id,
        declared,
        &next.attributes,
        &changed_attributes,
    )
    .await?;
    if next.default_group_id != current.default_group_id {
        tx.set_default_group(tenant, id, next.default_group_id, now)
            .await
            .map_err(|e| match e {
                // Deleted since the check above.
                StoreError::MissingReference => unknown_group(),
                other => other.into(),
            })?;
    }
    audit(
        tx,
        caller,
        tenant,
        Action::UserUpdate,
        (TargetKind::User, id.to_string()),
        json!({ "fields": changed }),
    )
    .await?;
    tx.record_changes([user_updated(caller, &current, &next)]);
    if next.profile.enterprise.manager != current.profile.enterprise.manager {
        // The new manager's display name is read with the user.
        return tx
            .lock_user(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User));
    }
    Ok(next)
}

/// Users to invite by address, into the same groups with the same role.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub emails: Vec<Email>,
    pub groups: Vec<GroupId>,
    /// Made one of the groups when it is not already.
    pub default_group: Option<GroupId>,
    pub role: Role,
}

/// What an invitation did: the users it made, and the addresses it refused and why.
#[derive(Debug, Default)]
pub struct InvitationOutcome {
    pub invited: Vec<UserWithGroups>,
    pub refused: Vec<(Email, ServiceError)>,
}

/// A new user as it will be stored, its declared attributes checked against the
/// tenant's declarations (`declared`): every required one must be given.
pub(super) fn user_record(
    tenant: TenantId,
    new: NewUser,
    declared: &[AttributeDefinition],
    has_password: bool,
    now: Timestamp,
) -> ServiceResult<User> {
    let (attributes, _) =
        applied_attribute_write(declared, &Default::default(), new.attributes, true)?;
    let mut user = User {
        id: UserId::generate(),
        tenant_id: tenant,
        email: new.email.as_str().to_owned(),
        user_name: new.user_name.map(UserName::into_string),
        first_name: new.first_name.into_string(),
        last_name: new.last_name.into_string(),
        profile: Profile::default(),
        attributes,
        role: new.role,
        status: new.status,
        external_id: new.external_id.map(|e| e.into_string()),
        default_group_id: None,
        has_password,
        two_factor_enabled: false,
        login: LoginMetadata {
            password_changed_at: has_password.then_some(now),
            ..LoginMetadata::default()
        },
        version: 1,
        created_at: now,
        updated_at: now,
    };
    user.replace_profile(new.profile);
    user.set_email(new.email.as_str());
    user.set_role(new.role);
    user.follow_email_when_equal();
    Ok(user)
}

/// Inserts a new user, checked as every write is, with its declared attributes'
/// values (checked by [`Directory::user_record`]) and its audit event.
pub(super) async fn insert_user(
    tx: &mut Tx,
    caller: &Caller,
    user: &mut User,
    password_hash: Option<&str>,
    declared: &[AttributeDefinition],
) -> ServiceResult<()> {
    check_profile(user)?;
    tx.insert_user(user, password_hash).await?;
    let named: Vec<String> = user.attributes.keys().cloned().collect();
    store_attribute_values(
        tx,
        user.tenant_id,
        user.id,
        declared,
        &user.attributes,
        &named,
    )
    .await?;
    tx.insert_audit_event(&creation_event(caller, user)).await?;
    tx.record_changes([user_created(caller, user)]);
    Ok(())
}

/// The audit event of `user`'s creation by `caller`.
pub(super) fn creation_event(caller: &Caller, user: &User) -> AuditEvent {
    audit_event(
        caller.principal.actor(),
        &caller.client,
        user.tenant_id,
        Action::UserCreate,
        (TargetKind::User, user.id.to_string()),
        json!({ "email": user.email, "role": user.role.as_str(), "status": user.status.as_str() }),
    )
}

/// A user about to be created, as [`Directory::new_record`] makes it.
pub(super) struct NewRecord {
    pub user: User,
    pub password_hash: Option<String>,
    /// The tenant's declared attributes, which the user's values were checked against.
    pub declared: Vec<AttributeDefinition>,
}

impl Directory {
    /// The record of a new user: its password hashed (or its imported hash kept),
    /// its declared attributes checked against the tenant's declarations.
    pub(super) async fn new_record(
        &self,
        tenant: TenantId,
        new: NewUser,
    ) -> ServiceResult<NewRecord> {
        let password_hash = match (&new.password, &new.password_hash) {
            (Some(password), _) => Some(self.passwords.hash(password).await?),
            (None, Some(imported)) => Some(imported.as_str().to_owned()),
            (None, None) => None,
        };
        let declared = self.store.list_attributes(tenant).await?;
        let user = user_record(
            tenant,
            new,
            &declared,
            password_hash.is_some(),
            Timestamp::now(),
        )?;
        Ok(NewRecord {
            user,
            password_hash,
            declared,
        })
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn create_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewUser,
    ) -> ServiceResult<User> {
        self.authorize(caller, tenant, Access::Write).await?;
        let NewRecord {
            mut user,
            password_hash,
            declared,
        } = self.new_record(tenant, new).await?;
        if user.profile.enterprise.manager.is_none() && user.attributes.is_empty() {
            // The common create: written together with those made meanwhile.
            check_profile(&mut user)?;
            return self
                .creates
                .create(&self.store, caller, user, password_hash)
                .await;
        }
        let mut tx = self.store.begin().await?;
        insert_user(
            &mut tx,
            caller,
            &mut user,
            password_hash.as_deref(),
            &declared,
        )
        .await?;
        if user.profile.enterprise.manager.is_some() {
            // The manager's display name is read with the user.
            user = tx
                .lock_user(tenant, user.id)
                .await?
                .ok_or(ServiceError::NotFound(Resource::User))?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Invites users by address: each becomes a pending user without a name or
    /// password, a member of `groups`, atomically one by one. Addresses already in
    /// use are refused one by one; the others are invited.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn invite_users(
        &self,
        caller: &Caller,
        tenant: TenantId,
        invitation: Invitation,
    ) -> ServiceResult<InvitationOutcome> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut groups = invitation.groups;
        if let Some(default) = invitation.default_group
            && !groups.contains(&default)
        {
            groups.push(default);
        }
        for group in &groups {
            if self.store.get_group(tenant, *group).await?.is_none() {
                return Err(ServiceError::invalid(
                    "groups",
                    format!("no group with id {group} exists in the tenant"),
                ));
            }
        }
        // Added in id order, after locking them in that order, as every membership
        // change does.
        groups.sort_by_key(|g| g.as_uuid());
        groups.dedup();
        let declared = self.store.list_attributes(tenant).await?;
        let mut outcome = InvitationOutcome::default();
        let mut invited = Vec::new();
        for email in invitation.emails {
            let new = NewUser {
                email: email.clone(),
                user_name: None,
                first_name: PersonName::empty(),
                last_name: PersonName::empty(),
                profile: Profile::default(),
                role: invitation.role,
                status: Status::Pending,
                external_id: None,
                password: None,
                password_hash: None,
                attributes: Default::default(),
            };
            let now = Timestamp::now();
            let mut user = match user_record(tenant, new, &declared, false, now) {
                Ok(user) => user,
                Err(refused @ ServiceError::Invalid(_)) => {
                    outcome.refused.push((email, refused));
                    continue;
                }
                Err(other) => return Err(other),
            };
            user.default_group_id = invitation.default_group;
            let mut tx = self.store.begin().await?;
            tx.lock_memberships(tenant, false).await?;
            if tx.lock_groups(tenant, &groups).await?.len() != groups.len() {
                // Deleted since the check above.
                return Err(ServiceError::NotFound(Resource::Group));
            }
            match insert_user(&mut tx, caller, &mut user, None, &declared).await {
                Ok(()) => {}
                Err(conflict @ ServiceError::Conflict { .. }) => {
                    outcome.refused.push((email, conflict));
                    continue;
                }
                Err(other) => return Err(other),
            }
            let delta = Delta {
                add: groups.iter().map(|g| (*g, user.id)).collect(),
                remove: Vec::new(),
            };
            write_delta(&mut tx, caller, tenant, &delta, now, || {
                ServiceError::NotFound(Resource::Group)
            })
            .await
            .map_err(Attempt::into_error)?;
            if user.default_group_id.is_some() {
                tx.set_default_group(tenant, user.id, user.default_group_id, now)
                    .await?;
            }
            // The reply is what is stored, read back in the transaction that wrote it.
            let stored = tx
                .lock_user(tenant, user.id)
                .await?
                .ok_or(ServiceError::NotFound(Resource::User))?;
            tx.commit().await?;
            invited.push(stored);
        }
        // The invited users' groups, in the order every read lists them: one read.
        outcome.invited = with_groups(&self.store, tenant, invited, Include::Groups).await?;
        Ok(outcome)
    }

    pub async fn get_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: UserId,
    ) -> ServiceResult<User> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.find_user(tenant, id).await
    }

    /// The one user matching `filter`, with its groups, for a caller already
    /// authorized.
    pub(super) async fn find_one(
        &self,
        tenant: TenantId,
        filter: Filter<UserAttr>,
    ) -> ServiceResult<UserWithGroups> {
        let query = UserQuery {
            filter,
            sort: None,
            window: Window::Numbered {
                offset: 0,
                count: 1,
                total: false,
            },
            include: Include::Groups,
        };
        read_users(&self.store, tenant, &query)
            .await?
            .users
            .pop()
            .ok_or(ServiceError::NotFound(Resource::User))
    }

    /// Deletes the user matching `filter` (an email) and its memberships.
    pub async fn delete_user_matching(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: Filter<UserAttr>,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let user = self.find_one(tenant, filter).await?.user;
        self.delete_user(caller, tenant, user.id, Precondition::None)
            .await
    }

    pub(super) async fn find_user(&self, tenant: TenantId, id: UserId) -> ServiceResult<User> {
        self.store
            .get_user(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))
    }

    /// The users `query` asks for: the one read every face lists and finds users
    /// through. Their groups, when asked for, come from one more statement for the
    /// whole window.
    pub async fn users(
        &self,
        caller: &Caller,
        tenant: TenantId,
        query: &UserQuery,
    ) -> ServiceResult<UserList> {
        self.authorize(caller, tenant, Access::Read).await?;
        read_users(&self.store, tenant, query).await
    }

    /// The one user matching `filter` (an id, an email), with its groups.
    pub async fn user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: Filter<UserAttr>,
    ) -> ServiceResult<UserWithGroups> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.find_one(tenant, filter).await
    }

    /// A user just read or written, with its groups: one read of the groups, not of
    /// the user again.
    pub async fn with_user_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        user: User,
    ) -> ServiceResult<UserWithGroups> {
        self.authorize(caller, tenant, Access::Read).await?;
        with_groups(&self.store, tenant, vec![user], Include::Groups)
            .await?
            .pop()
            .ok_or(ServiceError::NotFound(Resource::User))
    }

    /// Every user matching `filter`, in id order, read as keyset pages of [`CHUNK`]:
    /// memory holds one chunk however large the tenant, and no transaction or
    /// connection is held while the client reads.
    pub async fn stream_users(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: Filter<UserAttr>,
        include: Include,
    ) -> ServiceResult<impl Stream<Item = ServiceResult<Vec<UserWithGroups>>> + Send + 'static>
    {
        self.authorize(caller, tenant, Access::Read).await?;
        let store = self.store.clone();
        let first = UserQuery {
            filter,
            sort: None,
            window: Window::first(chunk_limit()),
            include,
        };
        Ok(stream::try_unfold(Some(first), move |query| {
            let store = store.clone();
            async move {
                let Some(query) = query else { return Ok(None) };
                let chunk = read_users(&store, tenant, &query).await?;
                if chunk.users.is_empty() {
                    return Ok(None);
                }
                let next = chunk.next.map(|after| UserQuery {
                    window: Window::After {
                        after: Some(after),
                        limit: chunk_limit(),
                    },
                    ..query
                });
                Ok(Some((chunk.users, next)))
            }
        }))
    }

    /// A page of the groups related to a user or group as `related` says: the groups
    /// a user belongs to, the groups within a group, or those it is within, each
    /// directly or at any depth.
    pub async fn related_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        related: GroupsRelated,
        page: PageRequest,
    ) -> ServiceResult<Page<Group>> {
        self.authorize(caller, tenant, Access::Read).await?;
        match related {
            GroupsRelated::OfUser(user, _) => {
                self.find_user(tenant, user).await?;
            }
            GroupsRelated::Within(group, _) | GroupsRelated::Containing(group, _) => {
                self.find_group(tenant, group).await?;
            }
        }
        let rows = self.store.list_groups(tenant, Some(related), page).await?;
        Ok(Page::from_rows(rows, page.limit, |g| g.id.as_uuid()))
    }

    /// Changes the fields the patch names; answers the user as stored.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %id), err(level = "debug"))]
    pub async fn update_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: UserId,
        patch: UserPatch,
        precondition: Precondition,
    ) -> ServiceResult<User> {
        match self.authorize(caller, tenant, Access::Write).await {
            Ok(()) => {}
            // A member manages itself: its own profile, nothing that decides its access.
            Err(ServiceError::Forbidden(_)) if caller.principal.is_user(tenant, id) => {
                if !patch.is_own_profile_only() {
                    return Err(ServiceError::Forbidden(
                        "a member changes only its own names, phone, company and country",
                    ));
                }
            }
            Err(refused) => return Err(refused),
        }
        let unknown_group = || {
            ServiceError::invalid(
                "defaultGroupId",
                "no group with this id exists in the tenant",
            )
        };
        if let Patch::Set(group) = patch.default_group_id
            && self.store.get_group(tenant, group).await?.is_none()
        {
            return Err(unknown_group());
        }
        let declared = self.declared_for(tenant, &patch.attributes, false).await?;
        let mut tx = self.store.begin().await?;
        if let Patch::Set(group) = patch.default_group_id {
            // A new default group is a membership change: the tenant's membership
            // lock and the group's come before the user's, as in every one.
            tx.lock_memberships(tenant, false).await?;
            tx.lock_groups(tenant, &[group]).await?;
        }
        let current = tx
            .lock_user(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        precondition.check(current.version)?;
        let next = write_user_change(&mut tx, caller, current, patch, &declared).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Changes a user by the replace `change` makes of it as it is stored, read under
    /// the user's lock and written in the same transaction: for the faces whose
    /// changes are relative to the stored user (operations on its representation).
    /// What the replace restates is no change ([`UserPatch::relative_to`]); it may
    /// not move the default group. Answers the user as stored.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %id))]
    pub async fn change_user<E: From<ServiceError>>(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: UserId,
        precondition: Precondition,
        change: impl FnOnce(&User) -> Result<UserPatch, E>,
    ) -> Result<User, E> {
        self.authorize(caller, tenant, Access::Write).await?;
        // The change may name any declared attribute: the declarations are read first.
        let declared = (self.store.list_attributes(tenant).await).map_err(ServiceError::from)?;
        let mut tx = self.store.begin().await.map_err(ServiceError::from)?;
        let current = tx
            .lock_user(tenant, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        precondition.check(current.version)?;
        let mut patch = change(&current)?.relative_to(&current);
        patch.default_group_id = Patch::Keep;
        let next = write_user_change(&mut tx, caller, current, patch, &declared).await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(next)
    }

    /// Deletes the user and its memberships.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, user_id = %id), err(level = "debug"))]
    pub async fn delete_user(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: UserId,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        // Its memberships end: no change of the hierarchy may count them meanwhile.
        tx.lock_memberships(tenant, false).await?;
        let current = tx
            .lock_user(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound(Resource::User))?;
        precondition.check(current.version)?;
        applied(tx.delete_user(tenant, id, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::UserDelete,
            (TargetKind::User, id.to_string()),
            json!({ "email": current.email }),
        )
        .await?;
        tx.record_changes([user_deleted(caller, tenant, id)]);
        tx.commit().await?;
        Ok(())
    }
}
