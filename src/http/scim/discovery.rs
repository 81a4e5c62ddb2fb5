//! The discovery endpoints. They describe the service, so they answer without a
//! credential (RFC 7644 §4 lets a provider leave them open); with one, the schemas
//! and the User resource type also hold the attributes its tenant declares.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::http::AppState;
use crate::http::credentials::bearer_token;

use super::error::ScimError;
use super::{ScimCaller, base_url, custom, schemas, scim_json};

/// The caller's tenant's extension schema when the request carries a credential
/// (a wrong one is refused as on every other endpoint), else none.
pub struct TenantExtension(Option<Value>);

impl FromRequestParts<AppState> for TenantExtension {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        if bearer_token(&parts.headers).is_none()
            && !parts
                .headers
                .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Ok(TenantExtension(None));
        }
        let scim = ScimCaller::from_request_parts(parts, state).await?;
        let declared = state
            .directory
            .attributes(&scim.caller, scim.tenant)
            .await?;
        Ok(TenantExtension(custom::schema(&declared)))
    }
}

pub async fn service_provider_config(headers: HeaderMap) -> Response {
    scim_json(
        StatusCode::OK,
        &schemas::service_provider_config(&base_url(&headers)),
    )
}

pub async fn resource_types(
    headers: HeaderMap,
    TenantExtension(extension): TenantExtension,
) -> Response {
    let base = base_url(&headers);
    scim_json(
        StatusCode::OK,
        &schemas::list_of(schemas::resource_types(&base, extension.is_some())),
    )
}

pub async fn resource_type(
    headers: HeaderMap,
    TenantExtension(extension): TenantExtension,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let found = schemas::resource_type_by_id(&base_url(&headers), &id, extension.is_some())
        .ok_or_else(|| ScimError::NotFound(format!("no resource type {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

pub async fn schemas(headers: HeaderMap, TenantExtension(extension): TenantExtension) -> Response {
    scim_json(
        StatusCode::OK,
        &schemas::list_of(schemas::schemas(&base_url(&headers), extension)),
    )
}

pub async fn schema(
    headers: HeaderMap,
    TenantExtension(extension): TenantExtension,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let found = schemas::schema_by_id(&base_url(&headers), &id, extension)
        .ok_or_else(|| ScimError::NotFound(format!("no schema {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}
