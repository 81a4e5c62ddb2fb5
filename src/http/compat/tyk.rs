//! The Tyk Dashboard's users and user groups API (`/api/users`, `/api/usergroups`),
//! with the key in an `authorization: <key>` header and no scheme word. See
//! docs/compat.md.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use axum::Router;
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::domain::{
    Description, Email, Group, GroupId, GroupName, GroupOwner, GroupPatch, NewGroup, NewUser,
    PasswordPolicy, PersonName, Profile, Role, Status, TenantId, User, UserId, UserPatch,
    Violations,
};
use crate::domain::{Filter, Include, NumberedPage, PageLimit, UserQuery, Window};
use crate::http::AppState;
use crate::http::body::{BodyError, read_json};
use crate::http::credentials::authenticate;
use crate::service::{Precondition, Resource, ServiceError, UserWithGroups};

use crate::http::face::Refusal;

use super::{body_failure, refusal_failure, service_failure, streamed_json_list, tenant_of};

/// Users per page when a list is asked for by page number (`?p=N`).
const PAGE_SIZE: u32 = 10;

fn numbered_page(number: u32) -> NumberedPage {
    NumberedPage {
        number: NonZeroU32::new(number).unwrap_or(NonZeroU32::MIN),
        size: PageLimit::new(PAGE_SIZE).unwrap_or_default(),
    }
}

pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list_users).post(create_user))
        .route(
            "/api/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/api/users/{id}/actions/reset", post(reset_password))
        .route("/api/users/{id}/actions/key/reset", put(reset_key))
        .route("/api/usergroups", get(list_groups).post(create_group))
        .route(
            "/api/usergroups/{id}",
            get(get_group).put(update_group).delete(delete_group),
        )
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<TykError>,
        ))
}

/// A user as the Dashboard shows it. `password` is never the hash; `access_key` is
/// the user's personal key only in the reply that creates or resets it.
#[derive(Debug, Serialize)]
struct TykUser {
    api_model: BTreeMap<String, Value>,
    first_name: String,
    last_name: String,
    email_address: String,
    password: &'static str,
    org_id: TenantId,
    active: bool,
    id: UserId,
    access_key: String,
    user_permissions: BTreeMap<&'static str, &'static str>,
}

/// The Dashboard's permission map for a role: an admin holds `IsAdmin`; a member
/// reads users and user groups.
fn permissions(role: Role) -> BTreeMap<&'static str, &'static str> {
    match role {
        Role::Admin => BTreeMap::from([("IsAdmin", "admin"), ("ResetPassword", "admin")]),
        Role::Member => BTreeMap::from([("user_groups", "read"), ("users", "read")]),
    }
}

impl TykUser {
    fn new(user: User, access_key: Option<&SecretString>) -> Self {
        Self {
            api_model: BTreeMap::new(),
            first_name: user.first_name,
            last_name: user.last_name,
            email_address: user.email,
            password: "",
            org_id: user.tenant_id,
            active: user.status == Status::Active,
            id: user.id,
            access_key: access_key
                .map(|key| key.expose_secret().to_owned())
                .unwrap_or_default(),
            user_permissions: permissions(user.role),
        }
    }
}

/// A user group as the Dashboard shows it.
#[derive(Debug, Serialize)]
struct TykGroup {
    id: GroupId,
    org_id: TenantId,
    name: String,
    description: String,
    active: bool,
    user_permissions: BTreeMap<&'static str, &'static str>,
}

impl From<Group> for TykGroup {
    fn from(group: Group) -> Self {
        Self {
            id: group.id,
            org_id: group.tenant_id,
            name: group.name,
            description: group.description,
            active: true,
            user_permissions: BTreeMap::new(),
        }
    }
}

/// `{"Status": "OK", "Message": …, "Meta": …}`.
fn ok(message: &'static str, meta: Value) -> Response {
    axum::Json(json!({ "Status": "OK", "Message": message, "Meta": meta })).into_response()
}

/// A Tyk failure: `{"Status": "Error", "Message": …, "Meta": null}`.
enum TykError {
    Service(ServiceError),
    Body(BodyError),
    BadRequest(String),
    Refused(Refusal),
}

/// Every request body this face reads, for the property test over bodies.
#[cfg(test)]
pub(crate) fn request_bodies() -> Vec<crate::http::body::BodyCheck> {
    use crate::http::body::check;
    vec![
        ("tyk user", check::<UserBody>),
        ("tyk reset", check::<ResetBody>),
        ("tyk group", check::<GroupBody>),
    ]
}

/// A refusal of the HTTP layer in Tyk's error shape.
pub fn refuse(refusal: Refusal) -> Response {
    TykError::Refused(refusal).into_response()
}

impl From<ServiceError> for TykError {
    fn from(error: ServiceError) -> Self {
        TykError::Service(error)
    }
}

impl From<BodyError> for TykError {
    fn from(error: BodyError) -> Self {
        TykError::Body(error)
    }
}

impl IntoResponse for TykError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            TykError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            TykError::Body(error) => body_failure(error),
            TykError::Refused(Refusal::NoSuchPath) => {
                (StatusCode::NOT_FOUND, "Not found".to_owned())
            }
            TykError::Refused(refusal) => refusal_failure(refusal),
            TykError::Service(ServiceError::NotFound(Resource::Group)) => {
                (StatusCode::NOT_FOUND, "User group not found".to_owned())
            }
            TykError::Service(ServiceError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "User not found".to_owned())
            }
            TykError::Service(ServiceError::Unauthorized) => {
                (StatusCode::UNAUTHORIZED, "Not authorised".to_owned())
            }
            TykError::Service(error) => service_failure(error),
        };
        (
            status,
            axum::Json(json!({ "Status": "Error", "Message": message, "Meta": null })),
        )
            .into_response()
    }
}

/// The caller, from `authorization: <key>`: a tenant API key or a user's personal
/// access key (a `Bearer ` prefix is tolerated).
struct TykCaller(Caller);

impl FromRequestParts<AppState> for TykCaller {
    type Rejection = TykError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, TykError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .map(|value| match value.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => value,
            })
            .filter(|token| !token.is_empty());
        Ok(TykCaller(
            authenticate(&state.directory, parts, token).await?,
        ))
    }
}

fn user_id(id: &str) -> Result<UserId, TykError> {
    UserId::parse(id).map_err(|_| TykError::Service(ServiceError::NotFound(Resource::User)))
}

fn group_id(id: &str) -> Result<GroupId, TykError> {
    GroupId::parse(id).map_err(|_| TykError::Service(ServiceError::NotFound(Resource::Group)))
}

/// The `p` parameter of a list; when it is repeated the first counts, as in the
/// Dashboard (Go's `url.Values.Get`).
fn page_param(query: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "p")
        .map(|(_, value)| value)
}

/// `GET /api/users`: with no `p`, or `p=-1`, every user (streamed) and `"pages": 0`;
/// with `p=N` (from 1; 0 reads as 1), page N of 10 and the number of pages.
async fn list_users(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let page = match page_param(query.as_deref())
        .as_deref()
        .map(str::parse::<i64>)
    {
        None | Some(Ok(-1)) => None,
        Some(Ok(p)) if (0..=i64::from(u32::MAX)).contains(&p) => Some(p.max(1) as u32),
        Some(_) => {
            return Err(TykError::BadRequest(
                "p must be -1 (every user) or a page number from 1".to_owned(),
            ));
        }
    };
    let Some(page) = page else {
        let users = state
            .directory
            .stream_users(&caller, tenant, Filter::Constant(true), Include::Nothing)
            .await?;
        return Ok(streamed_json_list(
            users,
            "{\"users\":[",
            "],\"pages\":0}",
            |u: UserWithGroups| TykUser::new(u.user, None),
        ));
    };
    let page = numbered_page(page);
    let query = UserQuery {
        filter: Filter::Constant(true),
        sort: None,
        window: Window::Numbered {
            offset: page.offset(),
            count: page.size.get(),
            total: true,
        },
        include: Include::Nothing,
    };
    let list = state.directory.users(&caller, tenant, &query).await?;
    let total = list.total.unwrap_or_default();
    let pages = (total + i64::from(PAGE_SIZE) - 1) / i64::from(PAGE_SIZE);
    let users: Vec<TykUser> = (list.users.into_iter())
        .map(|u| TykUser::new(u.user, None))
        .collect();
    Ok(axum::Json(json!({ "users": users, "pages": pages })).into_response())
}

/// The user fields a client sends. The fields the Dashboard shows but does not take
/// (`id`, `org_id`, `access_key`, `api_model`) are accepted and ignored, so that a
/// client may send back what it read; so are fields Roster does not know.
#[derive(Debug, Default, Deserialize)]
struct UserBody {
    first_name: Option<String>,
    last_name: Option<String>,
    email_address: Option<String>,
    active: Option<bool>,
    password: Option<String>,
    user_permissions: Option<BTreeMap<String, String>>,
}

impl UserBody {
    fn role(&self) -> Option<Role> {
        self.user_permissions.as_ref().map(|permissions| {
            if permissions.get("IsAdmin").is_some_and(|v| v == "admin") {
                Role::Admin
            } else {
                Role::Member
            }
        })
    }

    fn status(&self) -> Option<Status> {
        self.active.map(|active| {
            if active {
                Status::Active
            } else {
                Status::Disabled
            }
        })
    }

    fn into_new_user(self, policy: &PasswordPolicy) -> Result<NewUser, TykError> {
        let mut v = Violations::new();
        let role = self.role();
        let status = self.status();
        let email = match self.email_address {
            Some(email) => v.check("email_address", Email::parse(email)),
            None => {
                v.add("email_address", "is required");
                None
            }
        };
        let first_name = v
            .check(
                "first_name",
                PersonName::parse(self.first_name.unwrap_or_default()),
            )
            .unwrap_or_else(PersonName::empty);
        let last_name = v
            .check(
                "last_name",
                PersonName::parse(self.last_name.unwrap_or_default()),
            )
            .unwrap_or_else(PersonName::empty);
        let password = match self.password.filter(|p| !p.is_empty()) {
            Some(password) => v.check("password", policy.parse(password)),
            None => None,
        };
        let Some(email) = email else {
            return Err(ServiceError::Invalid(v.into_vec()).into());
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(NewUser {
            email,
            user_name: None,
            first_name,
            last_name,
            profile: Profile::default(),
            role: role.unwrap_or(Role::Member),
            status: status.unwrap_or(Status::Active),
            external_id: None,
            password,
            password_hash: None,
            attributes: Default::default(),
        })
    }

    fn into_patch(self) -> Result<UserPatch, TykError> {
        let mut v = Violations::new();
        let patch = UserPatch {
            email: v.check_opt(
                "email_address",
                self.email_address.clone().map(Email::parse),
            ),
            first_name: v.check_opt("first_name", self.first_name.clone().map(PersonName::parse)),
            last_name: v.check_opt("last_name", self.last_name.clone().map(PersonName::parse)),
            role: self.role(),
            status: self.status(),
            ..UserPatch::default()
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(patch)
    }
}

/// `POST /api/users`: creates the user with a personal access key, returned in `Meta`.
async fn create_user(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    request: Request,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let body: UserBody = read_json(request).await?;
    let (user, key) = state
        .directory
        .create_user_with_access_key(
            &caller,
            tenant,
            body.into_new_user(state.directory.password_policy())?,
        )
        .await?;
    let meta = serde_json::to_value(TykUser::new(user, Some(&key))).unwrap_or(Value::Null);
    Ok(ok("User created", meta))
}

async fn get_user(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let user = state
        .directory
        .get_user(&caller, tenant, user_id(&id)?)
        .await?;
    Ok(axum::Json(TykUser::new(user, None)).into_response())
}

/// `PUT /api/users/{id}`: changes the fields sent and answers the user.
async fn update_user(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let id = user_id(&id)?;
    let body: UserBody = read_json(request).await?;
    let user = state
        .directory
        .update_user(&caller, tenant, id, body.into_patch()?, Precondition::None)
        .await?;
    Ok(axum::Json(TykUser::new(user, None)).into_response())
}

async fn delete_user(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    state
        .directory
        .delete_user(&caller, tenant, user_id(&id)?, Precondition::None)
        .await?;
    Ok(ok("User deleted", json!("")))
}

#[derive(Debug, Deserialize)]
struct ResetBody {
    new_password: String,
}

/// `POST /api/users/{id}/actions/reset`: sets the password, under the same policy as
/// every face.
async fn reset_password(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let id = user_id(&id)?;
    let body: ResetBody = read_json(request).await?;
    let password = state
        .directory
        .password_policy()
        .parse(body.new_password)
        .map_err(|e| ServiceError::invalid("new_password", e.reason))?;
    state
        .directory
        .set_password(&caller, tenant, id, &password)
        .await?;
    Ok(ok("User password updated", json!("")))
}

/// `PUT /api/users/{id}/actions/key/reset`: a new personal access key, in `Meta`.
async fn reset_key(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let (user, key) = state
        .directory
        .reset_user_access_key(&caller, tenant, user_id(&id)?)
        .await?;
    let meta = serde_json::to_value(TykUser::new(user, Some(&key))).unwrap_or(Value::Null);
    Ok(ok("User key reset", meta))
}

/// `GET /api/usergroups`: every group (streamed) and `"pages": 0`.
async fn list_groups(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let groups = state.directory.stream_groups(&caller, tenant).await?;
    Ok(streamed_json_list(
        groups,
        "{\"groups\":[",
        "],\"pages\":0}",
        TykGroup::from,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct GroupBody {
    name: Option<String>,
    description: Option<String>,
}

async fn create_group(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    request: Request,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let body: GroupBody = read_json(request).await?;
    let mut v = Violations::new();
    let name = v.check("name", GroupName::parse(body.name.unwrap_or_default()));
    let description = v
        .check_opt("description", body.description.map(Description::parse))
        .unwrap_or_else(Description::empty);
    let Some(name) = name else {
        return Err(ServiceError::Invalid(v.into_vec()).into());
    };
    v.finish().map_err(ServiceError::Invalid)?;
    let group = state
        .directory
        .create_group(
            &caller,
            tenant,
            NewGroup {
                name,
                description,
                owner: GroupOwner::Local,
                federated_attribute_values: Vec::new(),
                external_id: None,
            },
        )
        .await?;
    let meta = serde_json::to_value(TykGroup::from(group)).unwrap_or(Value::Null);
    Ok(ok("User group created", meta))
}

async fn get_group(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let group = state
        .directory
        .get_group(&caller, tenant, group_id(&id)?)
        .await?;
    Ok(axum::Json(TykGroup::from(group)).into_response())
}

async fn update_group(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: Request,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    let id = group_id(&id)?;
    let body: GroupBody = read_json(request).await?;
    let mut v = Violations::new();
    let patch = GroupPatch {
        name: v.check_opt("name", body.name.map(GroupName::parse)),
        description: v.check_opt("description", body.description.map(Description::parse)),
        ..GroupPatch::default()
    };
    v.finish().map_err(ServiceError::Invalid)?;
    state
        .directory
        .update_group(&caller, tenant, id, patch, Precondition::None)
        .await?;
    Ok(ok("User group updated", Value::Null))
}

async fn delete_group(
    State(state): State<AppState>,
    TykCaller(caller): TykCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, TykError> {
    let tenant = tenant_of(&caller)?;
    state
        .directory
        .delete_group(&caller, tenant, group_id(&id)?, Precondition::None)
        .await?;
    Ok(ok("User group deleted", json!("")))
}
