//! The change feed: every committed change of a tenant's directory, in the order the
//! changes were committed.

use super::user::text_enum;
use super::{Actor, Member, TenantId, Timestamp};

/// What happened to a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    UserCreated,
    UserUpdated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    MemberAdded,
    MemberRemoved,
}

text_enum!(ChangeType {
    UserCreated = "user.created",
    UserUpdated = "user.updated",
    UserDeleted = "user.deleted",
    GroupCreated = "group.created",
    GroupUpdated = "group.updated",
    GroupDeleted = "group.deleted",
    MemberAdded = "group.member_added",
    MemberRemoved = "group.member_removed",
});

/// One change, as a write records it; the feed numbers it when its transaction commits.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Unique, and the same on every read and every delivery of the change.
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub occurred_at: Timestamp,
    pub change_type: ChangeType,
    pub object: Member,
    /// The object's version after the change; none once it is deleted.
    pub version: Option<i64>,
    /// The attributes the change set, by their names on the v1 face; for a creation,
    /// every attribute given a value; empty for a deletion and a membership.
    pub changed: Vec<String>,
    /// For a membership: the user or group that joined or left the group.
    pub member: Option<Member>,
    pub actor: Actor,
}

impl Change {
    /// A change of `object` by `actor`, happening now.
    pub fn new(
        tenant_id: TenantId,
        actor: Actor,
        change_type: ChangeType,
        object: Member,
        version: Option<i64>,
    ) -> Self {
        Change {
            id: uuid::Uuid::now_v7(),
            tenant_id,
            occurred_at: Timestamp::now(),
            change_type,
            object,
            version,
            changed: Vec::new(),
            member: None,
            actor,
        }
    }

    /// The same change, naming the attributes it set.
    pub fn changing(mut self, changed: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.changed = changed.into_iter().map(Into::into).collect();
        self
    }

    /// The same change, naming the member that joined or left.
    pub fn of_member(mut self, member: Member) -> Self {
        self.member = Some(member);
        self
    }
}

/// A committed change and its place in the tenant's feed: the feed's positions only
/// grow, in the order the changes' transactions committed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub position: i64,
    pub change: Change,
}
