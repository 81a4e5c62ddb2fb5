use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    Description, ExternalId, Group, GroupId, GroupName, GroupOwner, GroupPatch, GroupsRelated,
    Membership, NewGroup, TenantId, Timestamp, UserId, Violations, parse_federated_values,
};
use crate::http::AppState;
use crate::service::ServiceError;

use super::error::{ApiError, Problem};
use super::extract::{Auth, IfMatch, Json, Path, Query};
use super::users::UserBody;
use super::{
    ListBody, MembershipParams, PageParams, created, invalid, nullable, patch_nullable,
    patch_required, tagged,
};

/// A group as the native API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupBody {
    id: GroupId,
    tenant_id: TenantId,
    name: String,
    description: String,
    /// Where the group came from.
    owner: GroupOwner,
    federated_attribute_values: Vec<String>,
    external_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Group> for GroupBody {
    fn from(group: Group) -> Self {
        Self {
            id: group.id,
            tenant_id: group.tenant_id,
            name: group.name,
            description: group.description,
            owner: group.owner,
            federated_attribute_values: group.federated_attribute_values,
            external_id: group.external_id,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

/// A group to create. `owner` defaults to `LOCAL`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupBody {
    /// Unique in the tenant regardless of letter case.
    #[schema(max_length = 200)]
    name: String,
    #[schema(max_length = 1000)]
    description: Option<String>,
    #[schema(value_type = Option<GroupOwner>)]
    owner: Option<String>,
    #[schema(max_items = 100)]
    federated_attribute_values: Option<Vec<String>>,
    external_id: Option<String>,
}

impl CreateGroupBody {
    fn parse(self) -> Result<NewGroup, ApiError> {
        let mut v = Violations::new();
        let name = v.check("name", GroupName::parse(self.name));
        let description = v
            .check_opt("description", self.description.map(Description::parse))
            .unwrap_or_else(Description::empty);
        let owner = v.check_opt("owner", self.owner.as_deref().map(str::parse));
        let federated = v.check_opt(
            "federatedAttributeValues",
            self.federated_attribute_values.map(parse_federated_values),
        );
        let external_id = v.check_opt("externalId", self.external_id.map(ExternalId::parse));
        let Some(name) = name else {
            return Err(invalid(v));
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(NewGroup {
            name,
            description,
            owner: owner.unwrap_or(GroupOwner::Local),
            federated_attribute_values: federated.unwrap_or_default(),
            external_id,
        })
    }
}

/// A partial change: only the fields present change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateGroupBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    /// `null` empties it.
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    /// `null` empties them.
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    federated_attribute_values: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    external_id: Option<Option<String>>,
}

impl UpdateGroupBody {
    fn parse(self) -> Result<GroupPatch, ApiError> {
        let mut v = Violations::new();
        let federated_attribute_values = match self.federated_attribute_values {
            None => None,
            Some(None) => Some(Vec::new()),
            Some(Some(values)) => {
                v.check("federatedAttributeValues", parse_federated_values(values))
            }
        };
        let patch = GroupPatch {
            name: patch_required(&mut v, "name", self.name, GroupName::parse),
            description: match self.description {
                None => None,
                Some(text) => v.check("description", Description::parse(text.unwrap_or_default())),
            },
            federated_attribute_values,
            external_id: patch_nullable(&mut v, "externalId", self.external_id, ExternalId::parse),
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(patch)
    }
}

const PROBLEM: &str = "application/problem+json";

/// List a tenant's groups, in creation order.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/groups", tag = "groups", operation_id = "listGroups",
    params(("tenantId" = TenantId, Path), PageParams),
    responses(
        (status = 200, body = ListBody<GroupBody>),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ListBody<GroupBody>>, ApiError> {
    let groups = state
        .directory
        .list_groups(&caller, tenant, params.page()?)
        .await?;
    Ok(axum::Json(ListBody::from_page(groups, GroupBody::from)))
}

/// Create a group.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/groups", tag = "groups", operation_id = "createGroup",
    params(("tenantId" = TenantId, Path)),
    request_body = CreateGroupBody,
    responses(
        (status = 201, body = GroupBody, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 409, description = "The name is taken", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Json(body): Json<CreateGroupBody>,
) -> Result<impl IntoResponse, ApiError> {
    let group = state
        .directory
        .create_group(&caller, tenant, body.parse()?)
        .await?;
    let location = format!("/v1/tenants/{tenant}/groups/{}", group.id);
    Ok(created(location, group.version, GroupBody::from(group)))
}

/// Read a group.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/groups/{groupId}", tag = "groups", operation_id = "getGroup",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path)),
    responses(
        (status = 200, body = GroupBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
) -> Result<impl IntoResponse, ApiError> {
    let group = state.directory.get_group(&caller, tenant, id).await?;
    Ok(tagged(group.version, GroupBody::from(group)))
}

/// Change the fields the body names (JSON merge patch).
#[utoipa::path(
    patch, path = "/v1/tenants/{tenantId}/groups/{groupId}", tag = "groups", operation_id = "updateGroup",
    params(
        ("tenantId" = TenantId, Path), ("groupId" = GroupId, Path),
        ("If-Match" = Option<String>, Header, description = "Apply only if the group's ETag is this"),
    ),
    request_body(content = UpdateGroupBody, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = GroupBody, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 409, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    IfMatch(precondition): IfMatch,
    Json(body): Json<UpdateGroupBody>,
) -> Result<impl IntoResponse, ApiError> {
    let group = state
        .directory
        .update_group(&caller, tenant, id, body.parse()?, precondition)
        .await?;
    Ok(tagged(group.version, GroupBody::from(group)))
}

/// Delete a group and its memberships (its members stay): it leaves the groups it
/// is a member of, and its users stop being members of the groups above it through it.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/groups/{groupId}", tag = "groups", operation_id = "deleteGroup",
    params(
        ("tenantId" = TenantId, Path), ("groupId" = GroupId, Path),
        ("If-Match" = Option<String>, Header, description = "Delete only if the group's ETag is this"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    IfMatch(precondition): IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .delete_group(&caller, tenant, id, precondition)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a group's members that are users, in creation order: by default every user
/// in the group at any depth (through the groups within it); with
/// `membership=direct`, only those made its members directly.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/groups/{groupId}/members", tag = "groups", operation_id = "listGroupMembers",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), MembershipParams),
    responses(
        (status = 200, body = ListBody<UserBody>),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Query(params): Query<MembershipParams>,
) -> Result<axum::Json<ListBody<UserBody>>, ApiError> {
    let (membership, page) = params.parse()?;
    let filter = crate::domain::Filter::member_of(id, membership);
    let users = super::user_page(&state, &caller, tenant, filter, Some(id), page).await?;
    let declared = state.directory.attributes(&caller, tenant).await?;
    Ok(axum::Json(ListBody::from_page(users, |u| {
        UserBody::of(u, &declared)
    })))
}

/// List the groups within a group, in creation order: by default every group below
/// it at any depth; with `membership=direct`, only its member groups.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/groups/{groupId}/subgroups", tag = "groups", operation_id = "listSubgroups",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), MembershipParams),
    responses(
        (status = 200, body = ListBody<GroupBody>),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn subgroups(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Query(params): Query<MembershipParams>,
) -> Result<axum::Json<ListBody<GroupBody>>, ApiError> {
    related(&state, &caller, tenant, &params, |m| {
        GroupsRelated::Within(id, m)
    })
    .await
}

/// List the groups a group is within, in creation order: by default every group
/// above it at any depth; with `membership=direct`, only those it is a member of.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/groups/{groupId}/parents", tag = "groups", operation_id = "listParentGroups",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), MembershipParams),
    responses(
        (status = 200, body = ListBody<GroupBody>),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn parents(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Query(params): Query<MembershipParams>,
) -> Result<axum::Json<ListBody<GroupBody>>, ApiError> {
    related(&state, &caller, tenant, &params, |m| {
        GroupsRelated::Containing(id, m)
    })
    .await
}

/// A page of the groups related to a user or group, read as `params` say.
pub(super) async fn related(
    state: &AppState,
    caller: &crate::auth::Caller,
    tenant: TenantId,
    params: &MembershipParams,
    related: impl FnOnce(Membership) -> GroupsRelated,
) -> Result<axum::Json<ListBody<GroupBody>>, ApiError> {
    let (membership, page) = params.parse()?;
    let groups = state
        .directory
        .related_groups(caller, tenant, related(membership), page)
        .await?;
    Ok(axum::Json(ListBody::from_page(groups, GroupBody::from)))
}

/// Make a group a member of the group: its members become the group's members too.
/// Adding it again changes nothing; a group that would then be within itself,
/// directly or through others, is refused with 409 of type
/// `urn:roster:problem:cycle`.
#[utoipa::path(
    put, path = "/v1/tenants/{tenantId}/groups/{groupId}/subgroups/{subgroupId}", tag = "groups", operation_id = "addSubgroup",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), ("subgroupId" = GroupId, Path)),
    responses(
        (status = 204, description = "The group is a member"),
        (status = 404, description = "No such group", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The groups would form a cycle", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn add_subgroup(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, group, member)): Path<(TenantId, GroupId, GroupId)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .add_member_group(&caller, tenant, group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a member group out of the group (the groups themselves stay).
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/groups/{groupId}/subgroups/{subgroupId}", tag = "groups", operation_id = "removeSubgroup",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), ("subgroupId" = GroupId, Path)),
    responses(
        (status = 204, description = "The group is no longer a member"),
        (status = 404, description = "No such group or membership", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn remove_subgroup(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, group, member)): Path<(TenantId, GroupId, GroupId)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .remove_member_group(&caller, tenant, group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Make a user a member of the group; adding a member again changes nothing.
#[utoipa::path(
    put, path = "/v1/tenants/{tenantId}/groups/{groupId}/members/{userId}", tag = "groups", operation_id = "addGroupMember",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 204, description = "The user is a member"),
        (status = 404, description = "No such group or user", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, group, user)): Path<(TenantId, GroupId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .add_member(&caller, tenant, group, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End a user's membership of the group.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/groups/{groupId}/members/{userId}", tag = "groups", operation_id = "removeGroupMember",
    params(("tenantId" = TenantId, Path), ("groupId" = GroupId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 204, description = "The user is no longer a member"),
        (status = 404, description = "No such group, user or membership", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, group, user)): Path<(TenantId, GroupId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .remove_member(&caller, tenant, group, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A group line of Roster's export: the group as /v1 shows it.
pub(crate) fn exported(group: Group) -> serde_json::Value {
    serde_json::to_value(GroupBody::from(group)).unwrap_or_default()
}

/// Reads a group line of Roster's export as `POST …/groups` reads its body.
pub(crate) fn read_exported(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<NewGroup, Vec<crate::domain::FieldViolation>> {
    super::read_exported(
        object,
        &[
            "object",
            "id",
            "tenantId",
            "parents",
            "createdAt",
            "updatedAt",
        ],
        CreateGroupBody::parse,
    )
}
