//! /Groups: the directory's groups as SCIM Group resources. Groups made here are
//! owned by `SCIM`; member changes of one request, however many, are one
//! transaction.

use std::collections::HashSet;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::{
    Description, ExternalId, Filter, GroupId, GroupName, GroupOwner, GroupPatch, NewGroup, Patch,
    UserId,
};
use crate::http::AppState;
use crate::service::{MemberChange, Precondition, ProvisionedGroup, Resource};

use super::error::ScimError;
use super::filter::{group_filter, group_sort, member_ids};
use super::patch::{Op, operations};
use super::schemas::GROUP;
use super::{
    ListParams, ListQuery, ScimCaller, Written, if_match, list_params, list_response, not_modified,
    not_modified_response, parse_id, resource, scim_body, search_params, window,
};

/// A group as a SCIM Group resource.
pub fn render(found: &ProvisionedGroup, base: &str) -> Value {
    let group = &found.group;
    let mut value = json!({
        "schemas": [GROUP],
        "id": group.id.to_string(),
        "displayName": group.name,
        "members": found.members.iter().map(|id| json!({
            "value": id.to_string(),
            "$ref": format!("{base}/Users/{id}"),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.rfc3339(),
            "lastModified": group.updated_at.rfc3339(),
            "location": format!("{base}/Groups/{}", group.id),
            "version": super::etag(group.version),
        },
    });
    if let Some(external_id) = &group.external_id {
        value["externalId"] = json!(external_id);
    }
    value
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> ScimError {
    ScimError::bad("invalidValue", format!("{field}: {reason}"))
}

fn attribute<'a>(object: &'a Value, name: &str) -> &'a Value {
    object
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map_or(&Value::Null, |(_, v)| v)
}

fn name(value: &Value) -> Result<GroupName, ScimError> {
    match value {
        Value::String(s) => GroupName::parse(s.clone()).map_err(|e| invalid("displayName", e)),
        _ => Err(invalid("displayName", "is required and must be a string")),
    }
}

fn external_id(value: &Value) -> Result<Option<ExternalId>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => ExternalId::parse(s.clone())
            .map(Some)
            .map_err(|e| invalid("externalId", e)),
        _ => Err(invalid("externalId", "must be a string")),
    }
}

/// The user ids of a `members` value: an array of `{"value": id}` (or one such object).
fn members(value: &Value) -> Result<Vec<UserId>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        single @ Value::Object(_) => std::slice::from_ref(single),
        _ => return Err(invalid("members", "must be an array")),
    };
    items
        .iter()
        .map(|item| match attribute(item, "value") {
            Value::String(id) => UserId::parse(id).map_err(|_| {
                invalid(
                    "members",
                    format!("no user with id {id} exists in the tenant"),
                )
            }),
            _ => Err(invalid("members", "each member has a value: the user's id")),
        })
        .collect()
}

/// Member changes accumulated in request order.
#[derive(Default)]
struct Members {
    replace: Option<HashSet<UserId>>,
    add: HashSet<UserId>,
    remove: HashSet<UserId>,
}

impl Members {
    fn add(&mut self, ids: Vec<UserId>) {
        for id in ids {
            self.remove.remove(&id);
            self.add.insert(id);
        }
    }

    fn remove(&mut self, ids: Vec<UserId>) {
        for id in ids {
            self.add.remove(&id);
            self.remove.insert(id);
        }
    }

    fn replace(&mut self, ids: Vec<UserId>) {
        self.replace = Some(ids.into_iter().collect());
        self.add.clear();
        self.remove.clear();
    }

    fn into_change(self) -> MemberChange {
        MemberChange {
            replace: self.replace.map(|r| r.into_iter().collect()),
            add: self.add.into_iter().collect(),
            remove: self.remove.into_iter().collect(),
        }
    }
}

/// Reads a PatchOp request into a change of the group's fields and members.
fn read_patch(body: &Value) -> Result<(GroupPatch, MemberChange), ScimError> {
    let mut patch = GroupPatch::default();
    let mut change = Members::default();
    for operation in operations(body)? {
        let value = operation.value.clone().unwrap_or(Value::Null);
        let Some(path) = &operation.path else {
            // Without a path the value's attributes are added or replaced.
            let Value::Object(attributes) = &value else {
                return Err(ScimError::bad(
                    "invalidValue",
                    "without a path, the value is an object",
                ));
            };
            for (attribute, value) in attributes {
                match attribute.to_ascii_lowercase().as_str() {
                    "displayname" => patch.name = Some(name(value)?),
                    "externalid" => {
                        patch.external_id = external_id(value)?.map_or(Patch::Clear, Patch::Set)
                    }
                    "members" if operation.op == Op::Add => change.add(members(value)?),
                    "members" => change.replace(members(value)?),
                    "id" | "schemas" | "meta" => {}
                    other => {
                        return Err(ScimError::bad(
                            "invalidPath",
                            format!("no attribute {other}"),
                        ));
                    }
                }
            }
            continue;
        };
        let attribute = path.attr.attr.to_ascii_lowercase();
        if path.attr.sub.is_some() || path.sub.is_some() {
            return Err(ScimError::bad(
                "invalidPath",
                "groups have no sub-attributes to patch",
            ));
        }
        match (attribute.as_str(), operation.op, &path.filter) {
            ("displayname", Op::Remove, _) => {
                return Err(ScimError::bad("mutability", "displayName is required"));
            }
            ("displayname", _, None) => patch.name = Some(name(&value)?),
            ("externalid", Op::Remove, None) => patch.external_id = Patch::Clear,
            ("externalid", _, None) => {
                patch.external_id = external_id(&value)?.map_or(Patch::Clear, Patch::Set)
            }
            ("members", Op::Add, None) => change.add(members(&value)?),
            ("members", Op::Replace, None) => change.replace(members(&value)?),
            // Entra ID removes members with a value array and no filter.
            ("members", Op::Remove, None) if !value.is_null() => change.remove(members(&value)?),
            ("members", Op::Remove, None) => change.replace(Vec::new()),
            ("members", Op::Remove, Some(filter)) => change.remove(
                member_ids(filter)
                    .map_err(|e| ScimError::bad("invalidFilter", e.0))?
                    .into_iter()
                    .map(UserId::from_uuid)
                    .collect(),
            ),
            (other, _, _) => {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("cannot patch {other} this way"),
                ));
            }
        }
    }
    Ok((patch, change.into_change()))
}

fn group_id(id: &str) -> Result<GroupId, ScimError> {
    parse_id(id, GroupId::parse, Resource::Group)
}

/// `GET /Groups?filter=…&startIndex=…&count=…`
pub async fn list(
    State(state): State<AppState>,
    scim: ScimCaller,
    query: Result<ListQuery, QueryRejection>,
) -> Result<Response, ScimError> {
    listing(&state, &scim, list_params(query)?).await
}

/// `POST /Groups/.search`: the list, with its parameters in a SearchRequest body.
pub async fn search(
    State(state): State<AppState>,
    scim: ScimCaller,
    request: Request,
) -> Result<Response, ScimError> {
    let params = search_params(&scim_body(request).await?)?;
    listing(&state, &scim, params).await
}

async fn listing(
    state: &AppState,
    scim: &ScimCaller,
    params: ListParams,
) -> Result<Response, ScimError> {
    let filter = match params.filter.as_deref() {
        Some(text) => group_filter(text)?,
        None => Filter::Constant(true),
    };
    let (start, count) = window(&params)?;
    let sort = params.sort(group_sort)?;
    let listing = state
        .directory
        .provisioned_groups(&scim.caller, scim.tenant, &filter, sort, start - 1, count)
        .await?;
    let resources = listing
        .items
        .iter()
        .map(|g| params.shape(render(g, &scim.base)))
        .collect();
    Ok(list_response(listing.total, start, resources))
}

/// `GET /Groups/{id}`, answering 304 when If-None-Match names the current version.
pub async fn get(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<ListQuery, QueryRejection>,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let found = state
        .directory
        .provisioned_group(&scim.caller, scim.tenant, group_id(&id)?)
        .await?;
    if not_modified(&headers, found.group.version) {
        return Ok(not_modified_response(found.group.version));
    }
    Ok(resource(
        StatusCode::OK,
        &params.shape(render(&found, &scim.base)),
        found.group.version,
    ))
}

/// `POST /Groups`: a group owned by SCIM, with its members, made at once.
pub async fn create(
    State(state): State<AppState>,
    scim: ScimCaller,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let written = create_group(&state, &scim, &scim_body(request).await?).await?;
    Ok(written.reply(StatusCode::CREATED, &params))
}

/// `PUT /Groups/{id}`: replaces the name, external id and members.
pub async fn replace(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let body = scim_body(request).await?;
    let written = replace_group(&state, &scim, &id, &body, if_match(&headers)).await?;
    Ok(written.reply(StatusCode::OK, &params))
}

/// `PATCH /Groups/{id}`: every operation of the request in one transaction.
pub async fn patch(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<ListQuery, QueryRejection>,
    request: Request,
) -> Result<Response, ScimError> {
    let params = list_params(query)?;
    let body = scim_body(request).await?;
    let written = patch_group(&state, &scim, &id, &body, if_match(&headers)).await?;
    Ok(written.reply(StatusCode::OK, &params))
}

/// `DELETE /Groups/{id}`
pub async fn delete(
    State(state): State<AppState>,
    scim: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    delete_group(&state, &scim, &id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Creates a group owned by SCIM from a SCIM Group resource, with its members, in
/// one transaction (`POST /Groups`, and in a bulk request).
pub(super) async fn create_group(
    state: &AppState,
    scim: &ScimCaller,
    body: &Value,
) -> Result<Written, ScimError> {
    let new = NewGroup {
        name: name(attribute(body, "displayName"))?,
        description: Description::empty(),
        owner: GroupOwner::Scim,
        federated_attribute_values: Vec::new(),
        external_id: external_id(attribute(body, "externalId"))?,
    };
    let first_members = members(attribute(body, "members"))?;
    let id = state
        .directory
        .create_provisioned_group(&scim.caller, scim.tenant, new, first_members)
        .await?;
    current(state, scim, id).await
}

/// Replaces the group's name, external id and members with a resource's.
pub(super) async fn replace_group(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    body: &Value,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let id = group_id(id)?;
    let patch = GroupPatch {
        name: Some(name(attribute(body, "displayName"))?),
        external_id: external_id(attribute(body, "externalId"))?.map_or(Patch::Clear, Patch::Set),
        ..GroupPatch::default()
    };
    let change = MemberChange {
        replace: Some(members(attribute(body, "members"))?),
        ..MemberChange::default()
    };
    changed(state, scim, id, patch, change, precondition).await
}

/// Applies a PatchOp request to the group in one transaction.
pub(super) async fn patch_group(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    body: &Value,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let id = group_id(id)?;
    let (patch, change) = read_patch(body)?;
    changed(state, scim, id, patch, change, precondition).await
}

async fn changed(
    state: &AppState,
    scim: &ScimCaller,
    id: GroupId,
    patch: GroupPatch,
    change: MemberChange,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    state
        .directory
        .change_provisioned_group(&scim.caller, scim.tenant, id, patch, change, precondition)
        .await?;
    current(state, scim, id).await
}

async fn current(state: &AppState, scim: &ScimCaller, id: GroupId) -> Result<Written, ScimError> {
    let found = state
        .directory
        .provisioned_group(&scim.caller, scim.tenant, id)
        .await?;
    Ok(Written {
        body: render(&found, &scim.base),
        version: found.group.version,
    })
}

/// Deletes the group.
pub(super) async fn delete_group(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    precondition: Precondition,
) -> Result<(), ScimError> {
    state
        .directory
        .delete_group(&scim.caller, scim.tenant, group_id(id)?, precondition)
        .await?;
    Ok(())
}
