use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    ApiKey, ApiKeyId, ApiKeyRole, Description, KeyName, NewApiKey, TenantId, Timestamp, Violations,
};
use crate::http::AppState;
use crate::service::ServiceError;

use super::error::{ApiError, Problem};
use super::extract::{Auth, Json, Path, Query};
use super::{ListBody, PageParams, invalid};

/// A tenant API key as listed: never with its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyBody {
    id: ApiKeyId,
    tenant_id: TenantId,
    name: String,
    description: String,
    role: ApiKeyRole,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    /// Written at most once a minute.
    last_used_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<ApiKey> for ApiKeyBody {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            tenant_id: key.tenant_id,
            name: key.name,
            description: key.description,
            role: key.role,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            created_at: key.created_at,
        }
    }
}

/// A key just created: the only reply that ever holds its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKeyBody {
    #[serde(flatten)]
    key: ApiKeyBody,
    /// The bearer token. Shown here once; store it now.
    secret: String,
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyBody {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(max_length = 1000)]
    description: Option<String>,
    #[schema(value_type = ApiKeyRole)]
    role: String,
    /// When the key stops working (RFC 3339); never when absent.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<String>,
}

impl CreateApiKeyBody {
    fn parse(self) -> Result<NewApiKey, ApiError> {
        let mut v = Violations::new();
        let name = v.check("name", KeyName::parse(self.name));
        let description = v
            .check_opt("description", self.description.map(Description::parse))
            .unwrap_or_else(Description::empty);
        let role = v.check("role", self.role.parse());
        let expires_at = v.check_opt(
            "expiresAt",
            self.expires_at.as_deref().map(Timestamp::parse_rfc3339),
        );
        let (Some(name), Some(role)) = (name, role) else {
            return Err(invalid(v));
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(NewApiKey {
            name,
            description,
            role,
            expires_at,
        })
    }
}

const PROBLEM: &str = "application/problem+json";

/// List a tenant's API keys, revoked ones included; never their secrets.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/api-keys", tag = "api-keys", operation_id = "listApiKeys",
    params(("tenantId" = TenantId, Path), PageParams),
    responses(
        (status = 200, body = ListBody<ApiKeyBody>),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ListBody<ApiKeyBody>>, ApiError> {
    let keys = state
        .directory
        .list_api_keys(&caller, tenant, params.page()?)
        .await?;
    Ok(axum::Json(ListBody::from_page(keys, ApiKeyBody::from)))
}

/// Create an API key (operator or tenant admin). The reply holds its secret, once.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/api-keys", tag = "api-keys", operation_id = "createApiKey",
    params(("tenantId" = TenantId, Path)),
    request_body = CreateApiKeyBody,
    responses(
        (status = 201, body = CreatedApiKeyBody, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Json(body): Json<CreateApiKeyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let created = state
        .directory
        .create_api_key(&caller, tenant, body.parse()?)
        .await?;
    let location = format!("/v1/tenants/{tenant}/api-keys/{}", created.key.id);
    let body = CreatedApiKeyBody {
        secret: created.secret.expose_secret().to_owned(),
        key: created.key.into(),
    };
    Ok((
        StatusCode::CREATED,
        [
            (axum::http::header::LOCATION, location),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::Json(body),
    ))
}

/// Read an API key (never its secret).
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/api-keys/{keyId}", tag = "api-keys", operation_id = "getApiKey",
    params(("tenantId" = TenantId, Path), ("keyId" = ApiKeyId, Path)),
    responses(
        (status = 200, body = ApiKeyBody),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, ApiKeyId)>,
) -> Result<axum::Json<ApiKeyBody>, ApiError> {
    let key = state.directory.get_api_key(&caller, tenant, id).await?;
    Ok(axum::Json(key.into()))
}

/// Revoke an API key: it authenticates nothing from now on.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/api-keys/{keyId}", tag = "api-keys", operation_id = "revokeApiKey",
    params(("tenantId" = TenantId, Path), ("keyId" = ApiKeyId, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, ApiKeyId)>,
) -> Result<StatusCode, ApiError> {
    state.directory.revoke_api_key(&caller, tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An API key line of Roster's export: the key as /v1 lists it, never its secret.
pub(crate) fn exported(key: ApiKey) -> serde_json::Value {
    serde_json::to_value(ApiKeyBody::from(key)).unwrap_or_default()
}
