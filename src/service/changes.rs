//! The change feed: what each write records of its changes (written with it, in its
//! transaction), and how a reader takes them in the order they committed, waiting
//! for the next when it has seen them all.

use std::time::Duration;

use crate::auth::Caller;
use crate::domain::{Actor, Change, ChangeType, Group, GroupId, Member, TenantId, User, UserId};
use crate::store::FeedPage;

use super::{Access, Directory, ServiceError, ServiceResult};

/// The longest a read of the feed waits for a change.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting read looks again for changes committed by other instances
/// (this instance's own commits wake it at once).
const FEED_POLL: Duration = Duration::from_secs(1);

/// The most events one read of the feed answers.
pub const MAX_FEED_LIMIT: u32 = 1000;

/// The creation of `user` by `caller`: every attribute it was given.
pub(super) fn user_created(by: impl Into<Actor>, user: &User) -> Change {
    change(by, user.tenant_id, ChangeType::UserCreated, user, None)
}

/// The change of `before` into `after` by `caller`: the attributes that differ.
pub(super) fn user_updated(by: impl Into<Actor>, before: &User, after: &User) -> Change {
    change(
        by,
        after.tenant_id,
        ChangeType::UserUpdated,
        after,
        Some(before),
    )
}

fn change(
    by: impl Into<Actor>,
    tenant: TenantId,
    change_type: ChangeType,
    user: &User,
    before: Option<&User>,
) -> Change {
    let object = Member::User(user.id);
    Change::new(tenant, by.into(), change_type, object, Some(user.version))
        .changing(user_fields_changed(before, user))
}

/// A change of the user `id` beside its own columns (a password, its two-factor
/// sign-in), which moved it to `version`: `changed` names what.
pub(super) fn user_touched(
    by: impl Into<Actor>,
    tenant: TenantId,
    id: UserId,
    version: Option<i64>,
    changed: &[&str],
) -> Option<Change> {
    let object = Member::User(id);
    version.map(|version| {
        Change::new(
            tenant,
            by.into(),
            ChangeType::UserUpdated,
            object,
            Some(version),
        )
        .changing(changed.iter().copied())
    })
}

/// The deletion of the user `id` by `caller`.
pub(super) fn user_deleted(by: impl Into<Actor>, tenant: TenantId, id: UserId) -> Change {
    let actor = by.into();
    Change::new(
        tenant,
        actor,
        ChangeType::UserDeleted,
        Member::User(id),
        None,
    )
}

/// The creation of `group` by `caller`.
pub(super) fn group_created(by: impl Into<Actor>, group: &Group) -> Change {
    group_change(by, ChangeType::GroupCreated, group, None)
}

/// The change of `before` into `after` by `caller`: the attributes that differ.
pub(super) fn group_updated(by: impl Into<Actor>, before: &Group, after: &Group) -> Change {
    group_change(by, ChangeType::GroupUpdated, after, Some(before))
}

fn group_change(
    by: impl Into<Actor>,
    change_type: ChangeType,
    group: &Group,
    before: Option<&Group>,
) -> Change {
    let actor = by.into();
    let object = Member::Group(group.id);
    Change::new(
        group.tenant_id,
        actor,
        change_type,
        object,
        Some(group.version),
    )
    .changing(group_fields_changed(before, group))
}

/// The deletion of the group `id` by `caller`.
pub(super) fn group_deleted(by: impl Into<Actor>, tenant: TenantId, id: GroupId) -> Change {
    let actor = by.into();
    Change::new(
        tenant,
        actor,
        ChangeType::GroupDeleted,
        Member::Group(id),
        None,
    )
}

/// `member` joining (`added`) or leaving `group`, by `caller`.
pub(super) fn membership(
    by: impl Into<Actor>,
    tenant: TenantId,
    added: bool,
    group: GroupId,
    member: Member,
) -> Change {
    let change_type = match added {
        true => ChangeType::MemberAdded,
        false => ChangeType::MemberRemoved,
    };
    let actor = by.into();
    Change::new(tenant, actor, change_type, Member::Group(group), None).of_member(member)
}

/// What the feed names as changed from `before` to `after`: the user's own
/// attributes by their v1 names, its profile's by their SCIM names, and its
/// declared attributes as `attributes.NAME`; `password` when a password was set
/// (never anything of it). A new user (no `before`) names every attribute it was
/// given.
fn user_fields_changed(before: Option<&User>, after: &User) -> Vec<String> {
    let differs = |changed: bool, given: bool| before.map_or(given, |_| changed);
    let own = [
        (
            "email",
            differs(before.is_some_and(|b| b.email != after.email), true),
        ),
        (
            "userName",
            differs(
                before.is_some_and(|b| b.user_name != after.user_name),
                after.user_name.is_some(),
            ),
        ),
        (
            "firstName",
            differs(
                before.is_some_and(|b| b.first_name != after.first_name),
                !after.first_name.is_empty(),
            ),
        ),
        (
            "lastName",
            differs(
                before.is_some_and(|b| b.last_name != after.last_name),
                !after.last_name.is_empty(),
            ),
        ),
        (
            "role",
            differs(before.is_some_and(|b| b.role != after.role), true),
        ),
        (
            "status",
            differs(before.is_some_and(|b| b.status != after.status), true),
        ),
        (
            "externalId",
            differs(
                before.is_some_and(|b| b.external_id != after.external_id),
                after.external_id.is_some(),
            ),
        ),
        (
            "defaultGroupId",
            differs(
                before.is_some_and(|b| b.default_group_id != after.default_group_id),
                after.default_group_id.is_some(),
            ),
        ),
        (
            "password",
            differs(
                before.is_some_and(|b| {
                    b.login.password_changed_at != after.login.password_changed_at
                }),
                after.has_password,
            ),
        ),
    ];
    let mut changed = named(own);
    let blank = Default::default();
    let profile = before.map_or(&blank, |b| &b.profile);
    changed.extend((after.profile.changed_fields(profile).into_iter()).map(str::to_owned));
    let none = Default::default();
    let values = before.map_or(&none, |b| &b.attributes);
    let names: std::collections::BTreeSet<&String> =
        values.keys().chain(after.attributes.keys()).collect();
    changed.extend(
        (names.into_iter())
            .filter(|name| values.get(*name) != after.attributes.get(*name))
            .map(|name| format!("attributes.{name}")),
    );
    changed
}

/// What the feed names as changed from `before` to `after` (a new group: every
/// attribute it was given).
fn group_fields_changed(before: Option<&Group>, after: &Group) -> Vec<String> {
    let fields = [
        ("name", before.is_none_or(|b| b.name != after.name)),
        (
            "description",
            before.map_or(!after.description.is_empty(), |b| {
                b.description != after.description
            }),
        ),
        ("owner", before.is_none_or(|b| b.owner != after.owner)),
        (
            "federatedAttributeValues",
            before.map_or(!after.federated_attribute_values.is_empty(), |b| {
                b.federated_attribute_values != after.federated_attribute_values
            }),
        ),
        (
            "externalId",
            before.map_or(after.external_id.is_some(), |b| {
                b.external_id != after.external_id
            }),
        ),
    ];
    named(fields)
}

/// The names of the fields marked changed.
fn named(fields: impl IntoIterator<Item = (&'static str, bool)>) -> Vec<String> {
    (fields.into_iter())
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_owned())
        .collect()
}

impl Directory {
    /// Up to `limit` of the tenant's changes committed after the position `after`
    /// (none: from the oldest kept), in the order they committed. When there are
    /// none yet, waits up to `wait` for the next. A reader whose position retention
    /// has since passed is told so (`Gone`): it missed changes; one past the feed's
    /// last position is refused.
    pub async fn changes(
        &self,
        caller: &Caller,
        tenant: TenantId,
        after: Option<i64>,
        limit: u32,
        wait: Duration,
    ) -> ServiceResult<FeedPage> {
        self.authorize(caller, tenant, Access::Read).await?;
        let limit = limit.clamp(1, MAX_FEED_LIMIT);
        let until = tokio::time::Instant::now() + wait.min(MAX_FEED_WAIT);
        // Subscribed before the first read, so a commit between the read and the
        // wait still wakes it.
        let mut committed = self.store.changes_committed();
        let mut after = after;
        loop {
            let mut page = (self.store)
                .changes_after(tenant, after.unwrap_or(0), limit)
                .await?;
            // None: from the oldest kept, which follows the last position pruned.
            let from = *after.get_or_insert(page.pruned_through);
            page.after = from;
            if from > page.last_position {
                return Err(ServiceError::invalid(
                    "after",
                    format!(
                        "the feed has not reached this position: its last is {}",
                        page.last_position
                    ),
                ));
            }
            if from < page.pruned_through {
                return Err(ServiceError::Gone(format!(
                    "the changes after position {from} are no longer kept: the feed \
                     keeps those after position {}",
                    page.pruned_through
                )));
            }
            let now = tokio::time::Instant::now();
            if !page.events.is_empty() || now >= until || self.store.closing() {
                return Ok(page);
            }
            let next_look = until.min(now + FEED_POLL);
            let _ = tokio::time::timeout_at(next_look, committed.changed()).await;
        }
    }
}
