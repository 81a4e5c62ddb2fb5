//! The discovery endpoints. They describe the service, not a tenant, so they answer
//! without a credential (RFC 7644 §4 lets a provider leave them open).

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::error::ScimError;
use super::{base_url, schemas, scim_json};

pub async fn service_provider_config(headers: HeaderMap) -> Response {
    scim_json(
        StatusCode::OK,
        &schemas::service_provider_config(&base_url(&headers)),
    )
}

pub async fn resource_types(headers: HeaderMap) -> Response {
    scim_json(
        StatusCode::OK,
        &schemas::list_of(schemas::resource_types(&base_url(&headers))),
    )
}

pub async fn resource_type(
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let found = schemas::resource_type_by_id(&base_url(&headers), &id)
        .ok_or_else(|| ScimError::NotFound(format!("no resource type {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

pub async fn schemas(headers: HeaderMap) -> Response {
    scim_json(
        StatusCode::OK,
        &schemas::list_of(schemas::schemas(&base_url(&headers))),
    )
}

pub async fn schema(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    let found = schemas::schema_by_id(&base_url(&headers), &id)
        .ok_or_else(|| ScimError::NotFound(format!("no schema {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}
