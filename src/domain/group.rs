use super::user::text_enum;
use super::{
    Description, ExternalId, GroupId, GroupName, Invalid, Patch, TenantId, Timestamp, UserId,
};

/// Where a group came from: made here, provisioned over SCIM, or federated by SAML.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum GroupOwner {
    Local,
    Scim,
    Saml,
}

text_enum!(GroupOwner { Local = "LOCAL", Scim = "SCIM", Saml = "SAML" });

/// A stored group as every face reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub owner: GroupOwner,
    pub federated_attribute_values: Vec<String>,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// At most this many federated attribute values, each 1 to 255 characters.
pub const MAX_FEDERATED_VALUES: usize = 100;

/// Validates a group's federated attribute values.
pub fn parse_federated_values(values: Vec<String>) -> Result<Vec<String>, Invalid> {
    if values.len() > MAX_FEDERATED_VALUES {
        return Err(Invalid::new(format!(
            "must hold at most {MAX_FEDERATED_VALUES} values"
        )));
    }
    for value in &values {
        let len = value.chars().count();
        if len == 0 || len > 255 || value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "each value must be 1 to 255 printable characters",
            ));
        }
    }
    Ok(values)
}

/// A group to create.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: GroupName,
    pub description: Description,
    pub owner: GroupOwner,
    pub federated_attribute_values: Vec<String>,
    pub external_id: Option<ExternalId>,
}

/// A partial change to a group.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<GroupName>,
    pub description: Option<Description>,
    pub federated_attribute_values: Option<Vec<String>>,
    pub external_id: Patch<ExternalId>,
}

impl GroupPatch {
    pub fn apply_to(self, group: &mut Group) {
        if let Some(name) = self.name {
            group.name = name.into_string();
        }
        if let Some(description) = self.description {
            group.description = description.into_string();
        }
        if let Some(values) = self.federated_attribute_values {
            group.federated_attribute_values = values;
        }
        self.external_id
            .apply(&mut group.external_id, |e| e.into_string());
    }
}

/// A group's member: a user, or another group (whose members are then the group's
/// members too, at any depth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Member {
    User(UserId),
    Group(GroupId),
}

impl Member {
    pub fn id(&self) -> uuid::Uuid {
        match self {
            Member::User(id) => id.as_uuid(),
            Member::Group(id) => id.as_uuid(),
        }
    }

    pub fn kind(&self) -> MemberKind {
        match self {
            Member::User(_) => MemberKind::User,
            Member::Group(_) => MemberKind::Group,
        }
    }

    /// "user" or "group", as the change feed names it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Member::User(_) => "user",
            Member::Group(_) => "group",
        }
    }

    /// The user or group `id` that `kind_name` names.
    pub fn parse(kind_name: &str, id: uuid::Uuid) -> Result<Self, Invalid> {
        match kind_name {
            "user" => Ok(Member::User(UserId::from_uuid(id))),
            "group" => Ok(Member::Group(GroupId::from_uuid(id))),
            _ => Err(Invalid::new("must be user or group")),
        }
    }
}

/// What kind of object a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKind {
    User,
    Group,
}

/// A member as a request names it: its id, and its kind when the request says it
/// (a SCIM client may send only the id; the directory then finds which it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub id: uuid::Uuid,
    pub kind: Option<MemberKind>,
}

impl From<Member> for MemberRef {
    fn from(member: Member) -> Self {
        MemberRef {
            id: member.id(),
            kind: Some(member.kind()),
        }
    }
}

impl From<UserId> for MemberRef {
    fn from(user: UserId) -> Self {
        Member::User(user).into()
    }
}

/// Which memberships a read means: only those a change named (direct), or those
/// too that come through groups within groups (effective).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Membership {
    Direct,
    #[default]
    Effective,
}

impl Membership {
    /// `direct` or `effective`.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "direct" => Ok(Membership::Direct),
            "effective" => Ok(Membership::Effective),
            _ => Err(Invalid::new("must be direct or effective")),
        }
    }
}

/// Groups by how they relate to a user or a group: what a list of groups may be
/// narrowed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsRelated {
    /// The groups the user belongs to.
    OfUser(UserId, Membership),
    /// The groups within the group (its member groups, or every group below it).
    Within(GroupId, Membership),
    /// The groups the group is within (its parents, or every group above it).
    Containing(GroupId, Membership),
}
