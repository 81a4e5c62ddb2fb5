//! SixEye's Users API: `GET /users` and `GET /users/{uuid}` in JSON:API form, with
//! a tenant API key as the bearer token. See docs/compat.md.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{Filter, Include};
use crate::domain::{Role, Status, Timestamp, User, UserId};
use crate::http::AppState;
use crate::http::credentials::{authenticate, bearer_token};
use crate::service::{ServiceError, UserWithGroups};

use crate::http::face::Refusal;

use super::{refusal_failure, service_failure, streamed_json_list, tenant_of, with_challenge};

const JSON_API: &str = "application/vnd.api+json";

pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<SixEyeError>,
        ))
}

/// A user as a JSON:API resource object.
#[derive(Debug, Serialize)]
struct UserResource {
    id: UserId,
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: UserAttributes,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAttributes {
    first_name: String,
    last_name: String,
    email: String,
    phone_number: Option<String>,
    suspended: bool,
    last_login_time: Option<String>,
    last_action_time: Option<String>,
    two_factor_enabled: bool,
    tenant_admin: bool,
}

/// SixEye writes times with a numeric UTC offset: `2023-03-08T10:18:38.501+00:00`.
fn sixeye_time(at: Timestamp) -> String {
    at.as_datetime()
        .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
        .to_string()
}

impl From<User> for UserResource {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            kind: "users",
            attributes: UserAttributes {
                first_name: user.first_name,
                last_name: user.last_name,
                email: user.email,
                phone_number: user.profile.work_phone().map(str::to_owned),
                suspended: user.status == Status::Disabled,
                last_login_time: user.login.last_successful_login_at.map(sixeye_time),
                last_action_time: user.login.last_action_at.map(sixeye_time),
                two_factor_enabled: user.two_factor_enabled,
                tenant_admin: user.role == Role::Admin,
            },
        }
    }
}

/// A SixEye failure: a JSON:API error document.
enum SixEyeError {
    Service(ServiceError),
    Refused(Refusal),
}

impl From<ServiceError> for SixEyeError {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

/// A refusal of the HTTP layer as a JSON:API error document.
pub fn refuse(refusal: Refusal) -> Response {
    SixEyeError::Refused(refusal).into_response()
}

impl IntoResponse for SixEyeError {
    fn into_response(self) -> Response {
        let (status, detail) = match self {
            SixEyeError::Service(ServiceError::Unauthorized) => (
                StatusCode::UNAUTHORIZED,
                "a valid API key is required as the bearer token".to_owned(),
            ),
            SixEyeError::Service(error) => service_failure(error),
            SixEyeError::Refused(refusal) => refusal_failure(refusal),
        };
        let body = json!({
            "errors": [{
                "status": status.as_u16().to_string(),
                "title": status.canonical_reason().unwrap_or("Error"),
                "detail": detail,
            }]
        });
        with_challenge(json_api(status, axum::Json(body)))
    }
}

/// The caller, from `Authorization: Bearer <tenant API key>`.
struct SixEyeCaller(Caller);

impl FromRequestParts<AppState> for SixEyeCaller {
    type Rejection = SixEyeError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SixEyeError> {
        let token = bearer_token(&parts.headers);
        Ok(SixEyeCaller(
            authenticate(&state.directory, parts, token).await?,
        ))
    }
}

fn json_api(status: StatusCode, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_API));
    response
}

/// `GET /users`: every user of the site, streamed.
async fn list_users(
    State(state): State<AppState>,
    SixEyeCaller(caller): SixEyeCaller,
) -> Result<Response, SixEyeError> {
    let tenant = tenant_of(&caller)?;
    let users = state
        .directory
        .stream_users(&caller, tenant, Filter::Constant(true), Include::Nothing)
        .await?;
    let list = streamed_json_list(users, "{\"data\":[", "]}", |u: UserWithGroups| {
        UserResource::from(u.user)
    });
    Ok(json_api(StatusCode::OK, list))
}

/// `GET /users/{uuid}`: one user, or 404 (for a malformed uuid too).
async fn get_user(
    State(state): State<AppState>,
    SixEyeCaller(caller): SixEyeCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, SixEyeError> {
    let tenant = tenant_of(&caller)?;
    let id =
        UserId::parse(&id).map_err(|_| ServiceError::NotFound(crate::service::Resource::User))?;
    let user = state.directory.get_user(&caller, tenant, id).await?;
    Ok(json_api(
        StatusCode::OK,
        axum::Json(json!({ "data": UserResource::from(user) })),
    ))
}
