//! The directory's users and groups in Dynatrace's shapes, and Dynatrace's request
//! bodies parsed into domain values. See docs/compat.md for every field's
//! source.

use serde::{Deserialize, Serialize};

use crate::domain::{
    Description, Email, Group, GroupId, GroupName, GroupOwner, GroupPatch, NewGroup, NewUser,
    PersonName, Profile, Role, Status, Tenant, TenantId, Timestamp, User, UserId, Violations,
    parse_federated_values,
};
use crate::service::{ServiceError, UserWithGroups};

/// Dynatrace's name for a user's status.
fn user_status(status: Status) -> &'static str {
    match status {
        Status::Active => "ACTIVE",
        Status::Disabled => "INACTIVE",
        Status::Pending => "PENDING",
    }
}

/// `RestUserWithGroups`: a user of `GET …/users/groups`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserWithGroups {
    uid: UserId,
    email: String,
    name: String,
    surname: String,
    /// Always `""`: the document types it as a string, and a password or its hash
    /// never leaves the directory.
    password: &'static str,
    company: Option<String>,
    country_code: Option<String>,
    user_status: &'static str,
    account_uuids: [TenantId; 1],
    owner_account_uuid: TenantId,
    #[serde(rename = "type")]
    kind: &'static str,
    dcs_active: bool,
    password_changed_at: Option<Timestamp>,
    user_login_metadata: RestUserLoginMetadata,
    created_at: Timestamp,
    updated_at: Timestamp,
    groups: Vec<RestUserGroup>,
}

/// `RestUserLoginMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RestUserLoginMetadata {
    successful_login_counter: i64,
    failed_login_counter: i64,
    last_successful_login: Option<Timestamp>,
    last_failed_login: Option<Timestamp>,
    /// When the user's last password-reset mail went out; null before the first.
    reset_password_token_sent_at: Option<Timestamp>,
    /// Every sign-in the directory records is a password (basic) sign-in.
    last_successful_basic_authentication: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// `RestUserGroup`: a group as listed with a user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserGroup {
    group_name: String,
    uuid: GroupId,
    owner: &'static str,
    description: String,
    #[serde(rename = "accountUUID")]
    account_uuid: TenantId,
    account_name: String,
    federated_attribute_values: Vec<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl RestUserGroup {
    pub fn new(group: Group, account: &Tenant) -> Self {
        Self {
            group_name: group.name,
            uuid: group.id,
            owner: group.owner.as_str(),
            description: group.description,
            account_uuid: group.tenant_id,
            account_name: account.name.clone(),
            federated_attribute_values: group.federated_attribute_values,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

impl RestUserWithGroups {
    pub fn new(entry: UserWithGroups, account: &Tenant) -> Self {
        // Direct groups only, as Dynatrace has no nesting (docs/compat.md).
        let (user, groups) = entry.into_direct();
        let login_updated_at = user.login_updated_at();
        Self {
            uid: user.id,
            email: user.email,
            name: user.first_name,
            surname: user.last_name,
            password: "",
            company: user.profile.enterprise.organization.clone(),
            country_code: user.profile.work_country().map(str::to_owned),
            user_status: user_status(user.status),
            account_uuids: [user.tenant_id],
            owner_account_uuid: user.tenant_id,
            kind: "USER",
            dcs_active: false,
            password_changed_at: user.login.password_changed_at,
            user_login_metadata: RestUserLoginMetadata {
                successful_login_counter: user.login.successful_logins,
                failed_login_counter: user.login.failed_logins,
                last_successful_login: user.login.last_successful_login_at,
                last_failed_login: user.login.last_failed_login_at,
                reset_password_token_sent_at: user.login.password_reset_sent_at,
                last_successful_basic_authentication: user.login.last_successful_login_at,
                created_at: user.created_at,
                updated_at: login_updated_at,
            },
            created_at: user.created_at,
            updated_at: user.updated_at,
            groups: groups
                .into_iter()
                .map(|g| RestUserGroup::new(g, account))
                .collect(),
        }
    }
}

/// `UsersDto`: a user of `GET …/users` and of a group's member list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersDto {
    uid: UserId,
    email: String,
    name: String,
    surname: String,
    user_status: &'static str,
}

impl From<User> for UsersDto {
    fn from(user: User) -> Self {
        Self {
            uid: user.id,
            email: user.email,
            name: user.first_name,
            surname: user.last_name,
            user_status: user_status(user.status),
        }
    }
}

/// A user with its groups, as `GET …/users/{email}` answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGroupsDto {
    uid: UserId,
    email: String,
    name: String,
    surname: String,
    user_status: &'static str,
    groups: Vec<RestUserGroup>,
}

impl UserGroupsDto {
    pub fn new(entry: UserWithGroups, account: &Tenant) -> Self {
        // Direct groups only, as Dynatrace has no nesting (docs/compat.md).
        let (user, groups) = entry.into_direct();
        Self {
            uid: user.id,
            email: user.email,
            name: user.first_name,
            surname: user.last_name,
            user_status: user_status(user.status),
            groups: groups
                .into_iter()
                .map(|g| RestUserGroup::new(g, account))
                .collect(),
        }
    }
}

/// `GetGroupDto`: a group of `GET …/groups` and of the group writes' replies.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetGroupDto {
    uuid: GroupId,
    name: String,
    description: String,
    federated_attribute_values: Vec<String>,
    owner: &'static str,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Group> for GetGroupDto {
    fn from(group: Group) -> Self {
        Self {
            uuid: group.id,
            name: group.name,
            description: group.description,
            federated_attribute_values: group.federated_attribute_values,
            owner: group.owner.as_str(),
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

/// The body of `POST …/users`: the email of the user to invite, and optionally its
/// names. Other fields are passed over, as Dynatrace does.
#[derive(Debug, Deserialize)]
pub struct PostUserDto {
    email: String,
    name: Option<String>,
    surname: Option<String>,
}

impl PostUserDto {
    /// The user to create: a member, pending until it signs in.
    pub fn parse(self) -> Result<NewUser, ServiceError> {
        let mut v = Violations::new();
        let email = v.check("email", Email::parse(self.email));
        let first_name = v.check("name", PersonName::parse(self.name.unwrap_or_default()));
        let last_name = v.check(
            "surname",
            PersonName::parse(self.surname.unwrap_or_default()),
        );
        let (Some(email), Some(first_name), Some(last_name)) = (email, first_name, last_name)
        else {
            return Err(ServiceError::Invalid(v.into_vec()));
        };
        Ok(NewUser {
            email,
            user_name: None,
            first_name,
            last_name,
            profile: Profile::default(),
            role: Role::Member,
            status: Status::Pending,
            external_id: None,
            password: None,
            password_hash: None,
            attributes: Default::default(),
        })
    }
}

/// `PutGroupDto`: a group to create (in a list) or the new state of one. `uuid` is
/// passed over: the path names the group, and new groups get new ids.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutGroupDto {
    #[serde(rename = "uuid")]
    _uuid: Option<String>,
    name: String,
    description: Option<String>,
    federated_attribute_values: Option<Vec<String>>,
}

/// A group's validated fields, with `prefix` before each field name.
fn parse_group(
    dto: PutGroupDto,
    prefix: &str,
    v: &mut Violations,
) -> Option<(GroupName, Description, Vec<String>)> {
    let name = v.check(&format!("{prefix}name"), GroupName::parse(dto.name));
    let description = v.check(
        &format!("{prefix}description"),
        Description::parse(dto.description.unwrap_or_default()),
    );
    let values = v.check(
        &format!("{prefix}federatedAttributeValues"),
        parse_federated_values(dto.federated_attribute_values.unwrap_or_default()),
    );
    Some((name?, description?, values?))
}

/// Parses the groups of a bulk create. A group with federated attribute values is
/// owned by SAML, as in Dynatrace; any other is LOCAL.
pub fn parse_new_groups(dtos: Vec<PutGroupDto>) -> Result<Vec<NewGroup>, ServiceError> {
    let mut v = Violations::new();
    let groups: Vec<Option<NewGroup>> = dtos
        .into_iter()
        .enumerate()
        .map(|(i, dto)| {
            parse_group(dto, &format!("[{i}]."), &mut v).map(|(name, description, values)| {
                NewGroup {
                    name,
                    description,
                    owner: if values.is_empty() {
                        GroupOwner::Local
                    } else {
                        GroupOwner::Saml
                    },
                    federated_attribute_values: values,
                    external_id: None,
                }
            })
        })
        .collect();
    v.finish().map_err(ServiceError::Invalid)?;
    Ok(groups.into_iter().flatten().collect())
}

/// Parses the new state of a group: what the body leaves out is emptied.
pub fn parse_group_update(dto: PutGroupDto) -> Result<GroupPatch, ServiceError> {
    let mut v = Violations::new();
    let parsed = parse_group(dto, "", &mut v);
    v.finish().map_err(ServiceError::Invalid)?;
    let Some((name, description, values)) = parsed else {
        return Err(ServiceError::invalid("", "the group could not be read"));
    };
    Ok(GroupPatch {
        name: Some(name),
        description: Some(description),
        federated_attribute_values: Some(values),
        ..GroupPatch::default()
    })
}

/// Parses a list of group uuids sent as a body.
pub fn parse_group_ids(ids: Vec<String>) -> Result<Vec<GroupId>, ServiceError> {
    let mut v = Violations::new();
    let ids: Vec<Option<GroupId>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| v.check(&format!("[{i}]"), GroupId::parse(id)))
        .collect();
    v.finish().map_err(ServiceError::Invalid)?;
    Ok(ids.into_iter().flatten().collect())
}
