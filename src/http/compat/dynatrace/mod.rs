//! Dynatrace's Account Management API (v1): the users and groups of an account under
//! `/iam/v1/accounts/{accountUuid}`, with a tenant API key as the bearer token. The
//! account uuid is the key's tenant id. See docs/compat.md.

mod error;
mod render;

use std::io;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::domain::NumberedPage;
use crate::domain::{
    Email, Filter, GroupId, Include, Membership, PageLimit, TenantId, UserAttr, UserQuery,
    Violations, Window,
};
use crate::http::AppState;
use crate::http::body::read_json;
use crate::http::credentials::{authenticate, bearer_token};
use crate::service::{GroupsChange, Precondition, Resource, ServiceError, ServiceResult};

use super::tenant_of;

use error::DynatraceError;
use render::{
    GetGroupDto, PostUserDto, PutGroupDto, RestUserWithGroups, UserGroupsDto, UsersDto,
    parse_group_ids, parse_group_update, parse_new_groups,
};

/// Every request body this face reads, for the property test over bodies.
#[cfg(test)]
pub(crate) fn request_bodies() -> Vec<crate::http::body::BodyCheck> {
    use crate::http::body::check;
    vec![
        ("dynatrace user", check::<PostUserDto>),
        ("dynatrace group", check::<PutGroupDto>),
        ("dynatrace groups", check::<Vec<PutGroupDto>>),
        ("dynatrace group ids", check::<Vec<String>>),
    ]
}

/// A refusal of the HTTP layer in Dynatrace's error shape.
pub fn refuse(refusal: crate::http::face::Refusal) -> Response {
    DynatraceError::Refused(refusal).into_response()
}

const PREFIX: &str = "/iam/v1/accounts/{account}";

/// The user a path's `{email}` names, in any letter case.
fn by_email(email: &Email) -> Filter<UserAttr> {
    Filter::user_eq(UserAttr::Email, email.as_str())
}

/// Users per page of `GET …/users/groups` unless `pageSize` says otherwise.
const DEFAULT_PAGE_SIZE: u32 = 100;

pub fn router(limit: std::time::Duration) -> Router<AppState> {
    let path = |rest: &str| format!("{PREFIX}{rest}");
    Router::new()
        .route(&path("/users/groups"), get(users_with_groups))
        .route(&path("/users"), get(list_users).post(create_user))
        .route(&path("/users/{email}"), get(get_user).delete(delete_user))
        .route(
            &path("/users/{email}/groups"),
            put(replace_user_groups)
                .post(add_user_to_groups)
                .delete(remove_user_from_groups),
        )
        .route(&path("/groups"), get(list_groups).post(create_groups))
        .route(
            &path("/groups/{group}"),
            put(update_group).delete(delete_group),
        )
        .route(&path("/groups/{group}/users"), get(group_members))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<DynatraceError>,
        ))
}

/// The caller and the account its request names. The caller must hold a tenant API
/// key (401 without one, 403 for the operator); an account id that is malformed or
/// not the caller's tenant is answered as one that does not exist.
struct Account {
    caller: Caller,
    id: TenantId,
}

impl FromRequestParts<AppState> for Account {
    type Rejection = DynatraceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, DynatraceError> {
        let token = bearer_token(&parts.headers);
        let caller = authenticate(&state.directory, parts, token).await?;
        let own = tenant_of(&caller)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ServiceError::NotFound(Resource::Tenant))?;
        // Checked here as well as in the service, so that a request naming another
        // account is 404 before its body or parameters are read.
        let id = params
            .iter()
            .find(|(name, _)| *name == "account")
            .and_then(|(_, value)| TenantId::parse(value).ok())
            .filter(|id| *id == own)
            .ok_or(ServiceError::NotFound(Resource::Tenant))?;
        Ok(Account { caller, id })
    }
}

/// The path's parameter after the account (a user's email or a group's uuid), as
/// sent, percent-decoded.
struct Named(String);

impl FromRequestParts<AppState> for Named {
    type Rejection = DynatraceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, DynatraceError> {
        // A segment that cannot be read names nothing (the HTTP layer already
        // answers one that is not percent-encoded UTF-8).
        let unreadable = || DynatraceError::Refused(crate::http::face::Refusal::NoSuchPath);
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| unreadable())?;
        let named = params
            .iter()
            .find(|(name, _)| *name != "account")
            .map(|(_, value)| Named(value.to_owned()))
            .ok_or_else(unreadable)?;
        Ok(named)
    }
}

/// A JSON body, refused in Dynatrace's error shape.
struct DtJson<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for DtJson<T> {
    type Rejection = DynatraceError;

    async fn from_request(request: Request, _: &S) -> Result<Self, DynatraceError> {
        Ok(DtJson(read_json(request).await?))
    }
}

/// The query's parameters as sent, in order (a name may repeat).
fn query_pairs(query: Option<String>) -> Result<Vec<(String, String)>, DynatraceError> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|_| {
        DynatraceError::Query(vec![crate::domain::FieldViolation {
            field: String::new(),
            reason: "the query string could not be read".into(),
        }])
    })
}

/// `pageNumber` (from 1, default 1) and `pageSize` (1 to 1000, default 100).
fn numbered_page(query: Option<String>) -> Result<NumberedPage, DynatraceError> {
    let pairs = query_pairs(query)?;
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    };
    let mut v = Violations::new();
    let number = v.check_opt(
        "pageNumber",
        last("pageNumber").map(|s| {
            s.parse::<NonZeroU32>().map_err(|_| {
                crate::domain::Invalid::new(format!("must be an integer from 1 to {}", u32::MAX))
            })
        }),
    );
    let size = v.check_opt("pageSize", last("pageSize").map(PageLimit::parse));
    v.finish().map_err(DynatraceError::Query)?;
    Ok(NumberedPage {
        number: number.unwrap_or(NonZeroU32::MIN),
        size: size.unwrap_or(PageLimit::new(DEFAULT_PAGE_SIZE).unwrap_or_default()),
    })
}

/// The `group-uuid` parameters (repeated, or comma-separated): at least one.
fn group_uuid_params(query: Option<String>) -> Result<Vec<GroupId>, DynatraceError> {
    let pairs = query_pairs(query)?;
    let mut v = Violations::new();
    let ids: Vec<GroupId> = pairs
        .iter()
        .filter(|(key, _)| key == "group-uuid")
        .flat_map(|(_, value)| value.split(','))
        .filter_map(|id| v.check("group-uuid", GroupId::parse(id.trim())))
        .collect();
    if ids.is_empty() && v.is_empty() {
        v.add("group-uuid", "name at least one group uuid");
    }
    v.finish().map_err(DynatraceError::Query)?;
    Ok(ids)
}

/// A user named by its email in the path: one that cannot exist is not found.
fn email_param(email: &str) -> Result<Email, DynatraceError> {
    Email::parse(email).map_err(|_| ServiceError::NotFound(Resource::User).into())
}

/// A group named by its uuid in the path: a malformed one is not found.
fn group_param(id: &str) -> Result<GroupId, DynatraceError> {
    GroupId::parse(id).map_err(|_| ServiceError::NotFound(Resource::Group).into())
}

/// `{"items": [...], "count": N}` written as it is read: memory holds one chunk at a
/// time, and `count` is the number of items sent. A failure after the first byte ends
/// the connection early, so the client sees a truncated body, never a short list.
fn counted_list<S, T, R, F>(chunks: S, mut render: F) -> Response
where
    S: Stream<Item = ServiceResult<Vec<T>>> + Send + 'static,
    R: Serialize,
    F: FnMut(T) -> R + Send + 'static,
{
    let count = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&count);
    let items = chunks.map(move |chunk| -> Result<Bytes, io::Error> {
        let chunk = chunk.map_err(|error| {
            tracing::error!(%error, "a streamed list failed part way");
            io::Error::other("the list could not be read to the end")
        })?;
        let mut buffer = Vec::with_capacity(chunk.len() * 200);
        for item in chunk {
            if counted.fetch_add(1, Ordering::Relaxed) > 0 {
                buffer.push(b',');
            }
            serde_json::to_writer(&mut buffer, &render(item)).map_err(io::Error::other)?;
        }
        Ok(Bytes::from(buffer))
    });
    let body = stream::once(async { Ok(Bytes::from_static(b"{\"items\":[")) })
        .chain(items)
        .chain(stream::once(async move {
            let count = count.load(Ordering::Relaxed);
            Ok(Bytes::from(format!("],\"count\":{count}}}")))
        }));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// `GET …/users/groups?pageNumber&pageSize`: one numbered page of users, each with
/// its groups, as a bare array.
async fn users_with_groups(
    State(state): State<AppState>,
    account: Account,
    RawQuery(query): RawQuery,
) -> Result<Response, DynatraceError> {
    let page = numbered_page(query)?;
    let tenant = state
        .directory
        .tenant_of_directory(&account.caller, account.id)
        .await?;
    let query = UserQuery {
        filter: Filter::Constant(true),
        sort: None,
        window: Window::Numbered {
            offset: page.offset(),
            count: page.size.get(),
            total: false,
        },
        include: Include::Groups,
    };
    let result = state
        .directory
        .users(&account.caller, account.id, &query)
        .await?;
    let users: Vec<RestUserWithGroups> = result
        .users
        .into_iter()
        .map(|u| RestUserWithGroups::new(u, &tenant))
        .collect();
    Ok(axum::Json(users).into_response())
}

/// `GET …/users`: every user of the account, streamed.
async fn list_users(
    State(state): State<AppState>,
    account: Account,
) -> Result<Response, DynatraceError> {
    let users = state
        .directory
        .stream_users(
            &account.caller,
            account.id,
            Filter::Constant(true),
            Include::Nothing,
        )
        .await?;
    Ok(counted_list(users, |u| UsersDto::from(u.user)))
}

/// `POST …/users` `{"email"}`: invites a user; it is pending until it signs in.
async fn create_user(
    State(state): State<AppState>,
    account: Account,
    DtJson(body): DtJson<PostUserDto>,
) -> Result<Response, DynatraceError> {
    let new = body.parse()?;
    let user = state
        .directory
        .create_user(&account.caller, account.id, new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(UsersDto::from(user))).into_response())
}

/// `GET …/users/{email}`: the user with its groups.
async fn get_user(
    State(state): State<AppState>,
    account: Account,
    Named(email): Named,
) -> Result<Response, DynatraceError> {
    let email = email_param(&email)?;
    let tenant = state
        .directory
        .tenant_of_directory(&account.caller, account.id)
        .await?;
    let user = state
        .directory
        .user(&account.caller, account.id, by_email(&email))
        .await?;
    Ok(axum::Json(UserGroupsDto::new(user, &tenant)).into_response())
}

/// `DELETE …/users/{email}`: removes the user from the account.
async fn delete_user(
    State(state): State<AppState>,
    account: Account,
    Named(email): Named,
) -> Result<StatusCode, DynatraceError> {
    let email = email_param(&email)?;
    state
        .directory
        .delete_user_matching(&account.caller, account.id, by_email(&email))
        .await?;
    Ok(StatusCode::OK)
}

/// `POST …/users/{email}/groups` `["uuid", …]`: adds memberships (201).
async fn add_user_to_groups(
    State(state): State<AppState>,
    account: Account,
    Named(email): Named,
    DtJson(ids): DtJson<Vec<String>>,
) -> Result<StatusCode, DynatraceError> {
    let email = email_param(&email)?;
    let groups = parse_group_ids(ids)?;
    state
        .directory
        .change_user_groups(
            &account.caller,
            account.id,
            by_email(&email),
            &groups,
            GroupsChange::Add,
        )
        .await?;
    Ok(StatusCode::CREATED)
}

/// `PUT …/users/{email}/groups` `["uuid", …]`: the user's groups become exactly these.
async fn replace_user_groups(
    State(state): State<AppState>,
    account: Account,
    Named(email): Named,
    DtJson(ids): DtJson<Vec<String>>,
) -> Result<StatusCode, DynatraceError> {
    let email = email_param(&email)?;
    let groups = parse_group_ids(ids)?;
    state
        .directory
        .change_user_groups(
            &account.caller,
            account.id,
            by_email(&email),
            &groups,
            GroupsChange::Replace,
        )
        .await?;
    Ok(StatusCode::OK)
}

/// `DELETE …/users/{email}/groups?group-uuid=…`: ends memberships.
async fn remove_user_from_groups(
    State(state): State<AppState>,
    account: Account,
    Named(email): Named,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, DynatraceError> {
    let email = email_param(&email)?;
    let groups = group_uuid_params(query)?;
    state
        .directory
        .change_user_groups(
            &account.caller,
            account.id,
            by_email(&email),
            &groups,
            GroupsChange::Remove,
        )
        .await?;
    Ok(StatusCode::OK)
}

/// `GET …/groups`: every group of the account, streamed.
async fn list_groups(
    State(state): State<AppState>,
    account: Account,
) -> Result<Response, DynatraceError> {
    let groups = state
        .directory
        .stream_groups(&account.caller, account.id)
        .await?;
    Ok(counted_list(groups, GetGroupDto::from))
}

/// `POST …/groups` `[{"name", …}, …]`: creates every group or none (201).
async fn create_groups(
    State(state): State<AppState>,
    account: Account,
    DtJson(body): DtJson<Vec<PutGroupDto>>,
) -> Result<Response, DynatraceError> {
    let new = parse_new_groups(body)?;
    let groups = state
        .directory
        .create_groups(&account.caller, account.id, new)
        .await?;
    let groups: Vec<GetGroupDto> = groups.into_iter().map(GetGroupDto::from).collect();
    Ok((StatusCode::CREATED, axum::Json(groups)).into_response())
}

/// `PUT …/groups/{uuid}` `{"name", …}`: the group's new name, description and
/// federated attribute values.
async fn update_group(
    State(state): State<AppState>,
    account: Account,
    Named(group): Named,
    DtJson(body): DtJson<PutGroupDto>,
) -> Result<Response, DynatraceError> {
    let group = group_param(&group)?;
    let patch = parse_group_update(body)?;
    let group = state
        .directory
        .update_group(
            &account.caller,
            account.id,
            group,
            patch,
            Precondition::None,
        )
        .await?;
    Ok(axum::Json(GetGroupDto::from(group)).into_response())
}

/// `DELETE …/groups/{uuid}`: deletes the group and its memberships.
async fn delete_group(
    State(state): State<AppState>,
    account: Account,
    Named(group): Named,
) -> Result<StatusCode, DynatraceError> {
    let group = group_param(&group)?;
    state
        .directory
        .delete_group(&account.caller, account.id, group, Precondition::None)
        .await?;
    Ok(StatusCode::OK)
}

/// `GET …/groups/{uuid}/users`: every member of the group, streamed.
async fn group_members(
    State(state): State<AppState>,
    account: Account,
    Named(group): Named,
) -> Result<Response, DynatraceError> {
    let group = group_param(&group)?;
    // Members of a group that does not exist are not an empty list.
    state
        .directory
        .get_group(&account.caller, account.id, group)
        .await?;
    let members = state
        .directory
        .stream_users(
            &account.caller,
            account.id,
            Filter::member_of(group, Membership::Direct),
            Include::Nothing,
        )
        .await?;
    Ok(counted_list(members, |u| UsersDto::from(u.user)))
}
