//! Anodot's users and groups API (`/api/v2/users`, `/api/v2/groups`) and its
//! access-token exchange. Bearer auth: an access token from `/api/v2/access-token`,
//! or a tenant API key itself. See docs/compat.md.

use axum::Router;
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Email, Filter, Group, GroupId, GroupName, Include, NewGroup, Role, Status, TenantId, User,
    Violations,
};
use crate::http::AppState;
use crate::http::body::{BodyError, read_json};
use crate::http::credentials::{authenticate, bearer_token, client_info};
use crate::service::{Invitation, ServiceError, UserWithGroups};

use crate::http::face::Refusal;

use super::{
    body_failure, refusal_failure, service_failure, streamed_json_list, tenant_of, with_challenge,
};

pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .route("/api/v2/access-token", post(access_token))
        .route("/api/v2/users", get(list_users).post(invite_users))
        .route("/api/v2/groups", get(list_groups).post(create_group))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<AnodotError>,
        ))
}

/// A user as Anodot lists it. `lastActive` is absent for a user never active.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AnodotUser {
    #[serde(rename = "_id")]
    id: String,
    created_at: String,
    first_name: String,
    last_name: String,
    email: String,
    roles: [&'static str; 1],
    disabled: bool,
    owner_organization: TenantId,
    groups: Vec<GroupId>,
    default_group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_active: Option<String>,
}

impl From<UserWithGroups> for AnodotUser {
    fn from(entry: UserWithGroups) -> Self {
        // Anodot has no nested groups: its clients write the groups they read back,
        // so a user shows its direct groups only (docs/compat.md).
        let (user, groups) = entry.into_direct();
        let group_ids: Vec<_> = groups.into_iter().map(|g| g.id).collect();
        let User {
            id,
            tenant_id,
            email,
            first_name,
            last_name,
            role,
            status,
            default_group_id,
            login,
            created_at,
            ..
        } = user;
        Self {
            id: id.to_string(),
            created_at: created_at.rfc3339(),
            first_name,
            last_name,
            email,
            roles: [match role {
                Role::Admin => "customer-admin",
                Role::Member => "customer-user",
            }],
            disabled: status == Status::Disabled,
            owner_organization: tenant_id,
            groups: group_ids,
            default_group: default_group_id.map(|g| g.to_string()).unwrap_or_default(),
            last_active: login.last_action_at.map(|at| at.rfc3339()),
        }
    }
}

/// A group as Anodot lists it.
#[derive(Debug, Serialize)]
struct AnodotGroup {
    id: GroupId,
    name: String,
    created: String,
    modified: String,
}

impl From<Group> for AnodotGroup {
    fn from(group: Group) -> Self {
        Self {
            id: group.id,
            name: group.name,
            created: group.created_at.rfc3339(),
            modified: group.updated_at.rfc3339(),
        }
    }
}

/// An Anodot failure: `{"status": <code>, "message": "..."}`, or for invitations with
/// invalid addresses the `validationResult` document.
enum AnodotError {
    Service(ServiceError),
    Body(BodyError),
    InvalidEmails(Vec<(String, String)>),
    Refused(Refusal),
}

/// Every request body this face reads, for the property test over bodies.
#[cfg(test)]
pub(crate) fn request_bodies() -> Vec<crate::http::body::BodyCheck> {
    use crate::http::body::check;
    vec![
        ("anodot access token", check::<RefreshTokenBody>),
        ("anodot invitation", check::<InviteBody>),
        ("anodot group", check::<GroupBody>),
    ]
}

/// A refusal of the HTTP layer in Anodot's error shape.
pub fn refuse(refusal: Refusal) -> Response {
    AnodotError::Refused(refusal).into_response()
}

impl From<ServiceError> for AnodotError {
    fn from(error: ServiceError) -> Self {
        AnodotError::Service(error)
    }
}

impl From<BodyError> for AnodotError {
    fn from(error: BodyError) -> Self {
        AnodotError::Body(error)
    }
}

impl IntoResponse for AnodotError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AnodotError::InvalidEmails(failures) => {
                let body = json!({ "validationResult": validation_result(false, &failures) });
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
            AnodotError::Body(error) => body_failure(error),
            AnodotError::Refused(refusal) => refusal_failure(refusal),
            AnodotError::Service(ServiceError::Unauthorized) => (
                StatusCode::UNAUTHORIZED,
                "a valid access token is required".to_owned(),
            ),
            AnodotError::Service(error) => service_failure(error),
        };
        with_challenge(
            (
                status,
                axum::Json(json!({ "status": status.as_u16(), "message": message })),
            )
                .into_response(),
        )
    }
}

/// `{"valid": …, "failures": [{"email", "reason"}]}`.
fn validation_result(valid: bool, failures: &[(String, String)]) -> serde_json::Value {
    json!({
        "valid": valid,
        "failures": failures
            .iter()
            .map(|(email, reason)| json!({ "email": email, "reason": reason }))
            .collect::<Vec<_>>(),
    })
}

/// The caller, from `Authorization: Bearer <access token or tenant API key>`.
struct AnodotCaller(Caller);

impl FromRequestParts<AppState> for AnodotCaller {
    type Rejection = AnodotError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AnodotError> {
        let token = bearer_token(&parts.headers);
        Ok(AnodotCaller(
            authenticate(&state.directory, parts, token).await?,
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshTokenBody {
    refresh_token: String,
}

#[derive(Debug, Default, Deserialize)]
struct AccessTokenParams {
    responseformat: Option<String>,
}

/// `POST /api/v2/access-token`: a tenant API key (the "refresh token") for a bearer
/// access token, answered as a JSON string, or as `{"token": …}` with
/// `?responseformat=JSON`.
async fn access_token(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, AnodotError> {
    // A repeated parameter is refused, as every other malformed query.
    let params: AccessTokenParams = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| AnodotError::Refused(crate::http::face::unreadable_parameters(&e)))?;
    let (parts, body) = request.into_parts();
    let client = client_info(&parts);
    let body: RefreshTokenBody = read_json(Request::from_parts(parts, body)).await?;
    let issued = state
        .directory
        .exchange_api_key(&body.refresh_token, client)
        .await?;
    let token = issued.token.expose_secret().to_owned();
    let as_object = params
        .responseformat
        .is_some_and(|format| format.eq_ignore_ascii_case("json"));
    let mut response = if as_object {
        axum::Json(json!({ "token": token })).into_response()
    } else {
        axum::Json(token).into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/v2/users`: every user of the organization, streamed.
async fn list_users(
    State(state): State<AppState>,
    AnodotCaller(caller): AnodotCaller,
) -> Result<Response, AnodotError> {
    let tenant = tenant_of(&caller)?;
    let users = state
        .directory
        .stream_users(&caller, tenant, Filter::Constant(true), Include::Groups)
        .await?;
    Ok(streamed_json_list(users, "[", "]", AnodotUser::from))
}

/// `GET /api/v2/groups`: every group of the organization, streamed.
async fn list_groups(
    State(state): State<AppState>,
    AnodotCaller(caller): AnodotCaller,
) -> Result<Response, AnodotError> {
    let tenant = tenant_of(&caller)?;
    let groups = state.directory.stream_groups(&caller, tenant).await?;
    Ok(streamed_json_list(groups, "[", "]", AnodotGroup::from))
}

/// `POST /api/v2/users`: invite users by email into groups, with one role.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InviteBody {
    emails: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    default_group: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

impl InviteBody {
    fn parse(self) -> Result<Invitation, AnodotError> {
        let mut invalid = Vec::new();
        let mut emails = Vec::new();
        for email in self.emails {
            match Email::parse(email.clone()) {
                Ok(parsed) => emails.push(parsed),
                Err(error) => invalid.push((email, error.reason)),
            }
        }
        if !invalid.is_empty() {
            return Err(AnodotError::InvalidEmails(invalid));
        }
        let mut v = Violations::new();
        if emails.is_empty() {
            v.add("emails", "must name at least one address");
        }
        let groups: Vec<GroupId> = self
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| v.check(&format!("groups[{i}]"), GroupId::parse(g)))
            .collect();
        let default_group = match self.default_group.as_deref() {
            None | Some("") => None,
            Some(g) => v.check("defaultGroup", GroupId::parse(g)),
        };
        let role = match self.role.as_deref() {
            None | Some("customer-user") => Some(Role::Member),
            Some("customer-admin") => Some(Role::Admin),
            Some(_) => {
                v.add("role", "must be one of: customer-user, customer-admin");
                None
            }
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(Invitation {
            emails,
            groups,
            default_group,
            role: role.unwrap_or(Role::Member),
        })
    }
}

async fn invite_users(
    State(state): State<AppState>,
    AnodotCaller(caller): AnodotCaller,
    request: Request,
) -> Result<Response, AnodotError> {
    let tenant = tenant_of(&caller)?;
    let body: InviteBody = read_json(request).await?;
    let outcome = state
        .directory
        .invite_users(&caller, tenant, body.parse()?)
        .await?;
    let failures: Vec<(String, String)> = outcome
        .refused
        .into_iter()
        .map(|(email, error)| (email.as_str().to_owned(), error.to_string()))
        .collect();
    let users: Vec<AnodotUser> = outcome.invited.into_iter().map(AnodotUser::from).collect();
    let body = json!({
        "validationResult": validation_result(true, &failures),
        "users": users,
    });
    Ok(axum::Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    name: String,
}

/// `POST /api/v2/groups`: create a group; answers it as the list shows it.
async fn create_group(
    State(state): State<AppState>,
    AnodotCaller(caller): AnodotCaller,
    request: Request,
) -> Result<Response, AnodotError> {
    let tenant = tenant_of(&caller)?;
    let body: GroupBody = read_json(request).await?;
    let name = GroupName::parse(body.name).map_err(|e| ServiceError::invalid("name", e.reason))?;
    let group = state
        .directory
        .create_group(
            &caller,
            tenant,
            NewGroup {
                name,
                description: crate::domain::Description::empty(),
                owner: crate::domain::GroupOwner::Local,
                federated_attribute_values: Vec::new(),
                external_id: None,
            },
        )
        .await?;
    Ok(axum::Json(AnodotGroup::from(group)).into_response())
}
