use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Tenant, TenantId, TenantName, Timestamp, Violations};
use crate::http::AppState;
use crate::service::ServiceError;

use super::error::{ApiError, Problem};
use super::extract::{Auth, IfMatch, Json, Path, Query};
use super::{ListBody, PageParams, created, invalid, tagged};

/// A tenant: a customer account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBody {
    id: TenantId,
    name: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Tenant> for TenantBody {
    fn from(tenant: Tenant) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name,
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}

/// A tenant's name: to create one, or to rename it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantNameBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

impl TenantNameBody {
    fn parse(self) -> Result<TenantName, ApiError> {
        let mut v = Violations::new();
        let Some(name) = v.check("name", TenantName::parse(self.name)) else {
            return Err(invalid(v));
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(name)
    }
}

const PROBLEM: &str = "application/problem+json";

/// List tenants (operator only).
#[utoipa::path(
    get, path = "/v1/tenants", tag = "tenants", operation_id = "listTenants",
    params(PageParams),
    responses(
        (status = 200, body = ListBody<TenantBody>),
        (status = 403, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ListBody<TenantBody>>, ApiError> {
    let tenants = state
        .directory
        .list_tenants(&caller, params.page()?)
        .await?;
    Ok(axum::Json(ListBody::from_page(tenants, TenantBody::from)))
}

/// Create a tenant (operator only).
#[utoipa::path(
    post, path = "/v1/tenants", tag = "tenants", operation_id = "createTenant",
    request_body = TenantNameBody,
    responses(
        (status = 201, body = TenantBody, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<TenantNameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = state
        .directory
        .create_tenant(&caller, body.parse()?)
        .await?;
    let location = format!("/v1/tenants/{}", tenant.id);
    Ok(created(location, tenant.version, TenantBody::from(tenant)))
}

/// Read a tenant: the operator reads any, a tenant's keys read their own.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}", tag = "tenants", operation_id = "getTenant",
    params(("tenantId" = TenantId, Path)),
    responses(
        (status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<TenantId>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = state.directory.get_tenant(&caller, id).await?;
    Ok(tagged(tenant.version, TenantBody::from(tenant)))
}

/// Rename a tenant (operator only).
#[utoipa::path(
    patch, path = "/v1/tenants/{tenantId}", tag = "tenants", operation_id = "renameTenant",
    params(
        ("tenantId" = TenantId, Path),
        ("If-Match" = Option<String>, Header, description = "Apply only if the tenant's ETag is this"),
    ),
    request_body = TenantNameBody,
    responses(
        (status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn rename(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<TenantId>,
    IfMatch(precondition): IfMatch,
    Json(body): Json<TenantNameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = state
        .directory
        .rename_tenant(&caller, id, body.parse()?, precondition)
        .await?;
    Ok(tagged(tenant.version, TenantBody::from(tenant)))
}

/// Delete a tenant with everything in it (operator only).
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}", tag = "tenants", operation_id = "deleteTenant",
    params(
        ("tenantId" = TenantId, Path),
        ("If-Match" = Option<String>, Header, description = "Delete only if the tenant's ETag is this"),
    ),
    responses(
        (status = 204, description = "Deleted, with all its users, groups and keys"),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 412, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<TenantId>,
    IfMatch(precondition): IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .delete_tenant(&caller, id, precondition)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
