//! The endpoints every resource type has, written once: list, search, read, create,
//! replace, patch and delete. `users` and `groups` say what their resources are;
//! /Bulk runs the same writes through [`ResourceType`].

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::http::AppState;
use crate::service::Precondition;

use super::error::ScimError;
use super::{
    ListParams, ListQuery, ScimCaller, Written, groups, if_match, list_params, list_response,
    not_modified, not_modified_response, scim_body, search_params, users, window,
};

/// How a write changes an existing resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// PUT: the body is the whole new resource.
    Replace,
    /// PATCH: the body is a PatchOp request.
    Patch,
}

/// A resource type served under /scim/v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    /// The type whose endpoint is `/{name}` (`Users`, `Groups`).
    pub fn at(name: &str) -> Option<Self> {
        match name {
            "Users" => Some(ResourceType::User),
            "Groups" => Some(ResourceType::Group),
            _ => None,
        }
    }

    async fn listing(
        self,
        state: &AppState,
        scim: &ScimCaller,
        params: &ListParams,
    ) -> Result<(i64, Vec<Value>), ScimError> {
        match self {
            ResourceType::User => users::listing(state, scim, params).await,
            ResourceType::Group => groups::listing(state, scim, params).await,
        }
    }

    async fn read(
        self,
        state: &AppState,
        scim: &ScimCaller,
        id: &str,
    ) -> Result<Written, ScimError> {
        match self {
            ResourceType::User => users::read(state, scim, id).await,
            ResourceType::Group => groups::read(state, scim, id).await,
        }
    }

    /// Creates a resource from its SCIM representation.
    pub async fn create(
        self,
        state: &AppState,
        scim: &ScimCaller,
        body: &Value,
    ) -> Result<Written, ScimError> {
        match self {
            ResourceType::User => users::create(state, scim, body).await,
            ResourceType::Group => groups::create(state, scim, body).await,
        }
    }

    /// Replaces a resource with a representation (PUT) or patches it (PATCH).
    pub async fn change(
        self,
        how: Change,
        state: &AppState,
        scim: &ScimCaller,
        id: &str,
        body: &Value,
        precondition: Precondition,
    ) -> Result<Written, ScimError> {
        match self {
            ResourceType::User => users::change(how, state, scim, id, body, precondition).await,
            ResourceType::Group => groups::change(how, state, scim, id, body, precondition).await,
        }
    }

    pub async fn delete(
        self,
        state: &AppState,
        scim: &ScimCaller,
        id: &str,
        precondition: Precondition,
    ) -> Result<(), ScimError> {
        match self {
            ResourceType::User => users::delete(state, scim, id, precondition).await,
            ResourceType::Group => groups::delete(state, scim, id, precondition).await,
        }
    }
}

/// Names the resource type of a route's handlers: `get(list::<Users>)`.
pub trait Endpoint {
    const TYPE: ResourceType;
}

/// `/Users`.
pub struct Users;
/// `/Groups`.
pub struct Groups;

impl Endpoint for Users {
    const TYPE: ResourceType = ResourceType::User;
}

impl Endpoint for Groups {
    const TYPE: ResourceType = ResourceType::Group;
}

/// `GET /{type}?filter=…&startIndex=…&count=…&sortBy=…`
pub async fn list<E: Endpoint>(
    State(state): State<AppState>,
    scim: ScimCaller,
    query: Result<ListQuery, QueryRejection>,
) -> Result<Response, ScimError> {
    listed(E::TYPE, &state, &scim, list_params(query)?).await
}

/// `POST /{type}/.search`: the list, with its parameters in a SearchRequest body.
pub async fn search<E: Endpoint>(
    State(state): State<AppState>,
    scim: ScimCaller,
    request: Request,
) -> Result<Response, ScimError> {
    let params = search_params(&scim_body(request).await?)?;
    listed(E::TYPE, &state, &scim, params).await
}

async fn listed(
    kind: ResourceType,
    state: &AppState,
    scim: &ScimCaller,
    params: ListParams,
) -> Result<Response, ScimError> {
    let (start, _) = window(&params)?;
    let (total, resources) = kind.listing(state, scim, &params).await?;
    Ok(list_response(total, start, resources))
}

/// `GET /{type}/{id}`, answering 304 when If-None-Match names the current version.
pub async fn read<E: Endpoint>(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<ListQuery, QueryRejection>,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let found = E::TYPE.read(&state, &scim, &id).await?;
    if not_modified(&headers, found.version) {
        return Ok(not_modified_response(found.version));
    }
    Ok(found.reply(StatusCode::OK, &params))
}

/// `POST /{type}`
pub async fn create<E: Endpoint>(
    State(state): State<AppState>,
    scim: ScimCaller,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let body = scim_body(request).await?;
    let written = E::TYPE.create(&state, &scim, &body).await?;
    Ok(written.reply(StatusCode::CREATED, &params))
}

/// `PUT /{type}/{id}`
pub async fn replace<E: Endpoint>(
    state: State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    id: Path<String>,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let change = (E::TYPE, Change::Replace);
    changed(change, state, scim, headers, id, query, request).await
}

/// `PATCH /{type}/{id}`
pub async fn patch<E: Endpoint>(
    state: State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    id: Path<String>,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let change = (E::TYPE, Change::Patch);
    changed(change, state, scim, headers, id, query, request).await
}

async fn changed(
    (kind, how): (ResourceType, Change),
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let body = scim_body(request).await?;
    let written = kind
        .change(how, &state, &scim, &id, &body, if_match(&headers))
        .await?;
    Ok(written.reply(StatusCode::OK, &params))
}

/// `DELETE /{type}/{id}`
pub async fn delete<E: Endpoint>(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    E::TYPE
        .delete(&state, &scim, &id, if_match(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
