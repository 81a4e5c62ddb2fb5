//! /v1/tenants/{tenantId}/attributes: the user attributes a tenant declares.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    AttributeChange, AttributeDefinition, AttributeName, AttributeType, Description, Mutability,
    NewAttribute, Returned, TenantId, Timestamp, Violations,
};
use crate::http::AppState;
use crate::service::{Resource, ServiceError};

use super::error::{ApiError, Problem};
use super::extract::{Auth, IfMatch, Json, Path};
use super::{ListBody, created, invalid, nullable, tagged};

const PROBLEM: &str = "application/problem+json";

/// A declared user attribute. Users hold its values under `attributes.<name>` in
/// /v1 and in the SCIM schema extension
/// `urn:ietf:params:scim:schemas:extension:roster:2.0:User`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeBody {
    name: String,
    description: String,
    r#type: AttributeType,
    multi_valued: bool,
    required: bool,
    unique: bool,
    case_exact: bool,
    mutability: Mutability,
    returned: Returned,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<AttributeDefinition> for AttributeBody {
    fn from(attribute: AttributeDefinition) -> Self {
        Self {
            name: attribute.name,
            description: attribute.description,
            r#type: attribute.kind,
            multi_valued: attribute.multi_valued,
            required: attribute.required,
            unique: attribute.unique,
            case_exact: attribute.case_exact,
            mutability: attribute.mutability,
            returned: attribute.returned,
            created_at: attribute.created_at,
            updated_at: attribute.updated_at,
        }
    }
}

/// An attribute to declare. Its type, `multiValued`, `unique` and `caseExact` are
/// fixed once declared.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeclareAttributeBody {
    /// A letter, then letters, digits, `-` and `_`; unique in the tenant in any
    /// letter case.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_-]*$")]
    name: String,
    #[schema(max_length = 1000)]
    description: Option<String>,
    #[schema(value_type = AttributeType)]
    r#type: String,
    /// Values are an array (default false).
    multi_valued: Option<bool>,
    /// Every new user must be given a value, and it cannot be removed (default false).
    required: Option<bool>,
    /// No two users of the tenant hold the same value (default false).
    unique: Option<bool>,
    /// Text values compare in their letter case (default false).
    case_exact: Option<bool>,
    /// Default `readWrite`.
    #[schema(value_type = Option<Mutability>)]
    mutability: Option<String>,
    /// Default `default`.
    #[schema(value_type = Option<Returned>)]
    returned: Option<String>,
}

impl DeclareAttributeBody {
    fn parse(self) -> Result<NewAttribute, ApiError> {
        let mut v = Violations::new();
        let name = v.check("name", AttributeName::parse(self.name));
        let description = v
            .check_opt("description", self.description.map(Description::parse))
            .unwrap_or_else(Description::empty);
        let kind = v.check("type", self.r#type.parse());
        let mutability = v.check_opt("mutability", self.mutability.as_deref().map(str::parse));
        let returned = v.check_opt("returned", self.returned.as_deref().map(str::parse));
        let (Some(name), Some(kind)) = (name, kind) else {
            return Err(invalid(v));
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(NewAttribute {
            name,
            description,
            kind,
            multi_valued: self.multi_valued.unwrap_or(false),
            required: self.required.unwrap_or(false),
            unique: self.unique.unwrap_or(false),
            case_exact: self.case_exact.unwrap_or(false),
            mutability: mutability.unwrap_or(Mutability::ReadWrite),
            returned: returned.unwrap_or(Returned::Default),
        })
    }
}

/// A change to a declaration: only the fields present change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeAttributeBody {
    #[serde(default, deserialize_with = "nullable")]
    /// `null` empties it.
    #[schema(value_type = Option<String>, max_length = 1000)]
    description: Option<Option<String>>,
    required: Option<bool>,
    #[schema(value_type = Option<Mutability>)]
    mutability: Option<String>,
    #[schema(value_type = Option<Returned>)]
    returned: Option<String>,
}

impl ChangeAttributeBody {
    fn parse(self) -> Result<AttributeChange, ApiError> {
        let mut v = Violations::new();
        let description = match self.description {
            None => None,
            Some(None) => Some(Description::empty()),
            Some(Some(text)) => v.check("description", Description::parse(text)),
        };
        let mutability = v.check_opt("mutability", self.mutability.as_deref().map(str::parse));
        let returned = v.check_opt("returned", self.returned.as_deref().map(str::parse));
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(AttributeChange {
            description,
            required: self.required,
            mutability,
            returned,
        })
    }
}

/// A name in the path that cannot be an attribute's names none.
fn attribute_name(name: String) -> Result<AttributeName, ApiError> {
    AttributeName::parse(name).map_err(|_| ServiceError::NotFound(Resource::Attribute).into())
}

/// List the tenant's declared user attributes, in name order (at most 100, one page).
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/attributes", tag = "attributes", operation_id = "listAttributes",
    params(("tenantId" = TenantId, Path)),
    responses(
        (status = 200, body = ListBody<AttributeBody>),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
) -> Result<axum::Json<ListBody<AttributeBody>>, ApiError> {
    let attributes = state.directory.attributes(&caller, tenant).await?;
    Ok(axum::Json(ListBody {
        items: attributes.into_iter().map(AttributeBody::from).collect(),
        next_cursor: None,
    }))
}

/// Declare a user attribute (operator or tenant admin).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/attributes", tag = "attributes", operation_id = "declareAttribute",
    params(("tenantId" = TenantId, Path)),
    request_body = DeclareAttributeBody,
    responses(
        (status = 201, body = AttributeBody, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 409, description = "The name is taken, or the tenant declares 100 already", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn declare(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Json(body): Json<DeclareAttributeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let attribute = state
        .directory
        .declare_attribute(&caller, tenant, body.parse()?)
        .await?;
    let location = format!("/v1/tenants/{tenant}/attributes/{}", attribute.name);
    Ok(created(
        location,
        attribute.version,
        AttributeBody::from(attribute),
    ))
}

/// Read a declared attribute (its name in any letter case).
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/attributes/{name}", tag = "attributes", operation_id = "getAttribute",
    params(("tenantId" = TenantId, Path), ("name" = String, Path)),
    responses(
        (status = 200, body = AttributeBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, name)): Path<(TenantId, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let name = attribute_name(name)?;
    let attribute = state.directory.attribute(&caller, tenant, &name).await?;
    Ok(tagged(attribute.version, AttributeBody::from(attribute)))
}

/// Change a declaration's description, `required`, `mutability` or `returned`.
#[utoipa::path(
    patch, path = "/v1/tenants/{tenantId}/attributes/{name}", tag = "attributes", operation_id = "changeAttribute",
    params(
        ("tenantId" = TenantId, Path), ("name" = String, Path),
        ("If-Match" = Option<String>, Header, description = "Apply only if the declaration's ETag is this"),
    ),
    request_body(content = ChangeAttributeBody, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = AttributeBody, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn change(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, name)): Path<(TenantId, String)>,
    IfMatch(precondition): IfMatch,
    Json(body): Json<ChangeAttributeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let name = attribute_name(name)?;
    let attribute = state
        .directory
        .change_attribute(&caller, tenant, &name, body.parse()?, precondition)
        .await?;
    Ok(tagged(attribute.version, AttributeBody::from(attribute)))
}

/// Delete a declaration and every user's values of it.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/attributes/{name}", tag = "attributes", operation_id = "deleteAttribute",
    params(
        ("tenantId" = TenantId, Path), ("name" = String, Path),
        ("If-Match" = Option<String>, Header, description = "Delete only if the declaration's ETag is this"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, name)): Path<(TenantId, String)>,
    IfMatch(precondition): IfMatch,
) -> Result<StatusCode, ApiError> {
    let name = attribute_name(name)?;
    state
        .directory
        .delete_attribute(&caller, tenant, &name, precondition)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An attribute line of Roster's export: the declaration as /v1 shows it.
pub(crate) fn exported(attribute: AttributeDefinition) -> serde_json::Value {
    serde_json::to_value(AttributeBody::from(attribute)).unwrap_or_default()
}

/// Reads an attribute line of Roster's export as declaring one reads its body.
pub(crate) fn read_exported(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<NewAttribute, Vec<crate::domain::FieldViolation>> {
    super::read_exported(
        object,
        &["object", "createdAt", "updatedAt"],
        DeclareAttributeBody::parse,
    )
}
