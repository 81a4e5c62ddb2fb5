//! /Groups: the directory's groups as SCIM Group resources. Groups made here are
//! owned by `SCIM`; member changes of one request, however many, are one
//! transaction.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::{
    Description, ExternalId, GroupId, GroupName, GroupOwner, GroupPatch, MemberKind, MemberRef,
    NewGroup, Patch,
};
use crate::http::AppState;
use crate::service::{GroupWithMembers, MemberChange, Precondition, Resource};

use super::error::ScimError;
use super::filter::{group_filter, group_sort, member_ids};
use super::patch::{Op, Operation, operations};
use super::resources::Change;
use super::schemas::GROUP;
use super::{ListParams, ScimCaller, Written, attribute, invalid, parse_id};

/// A group as a SCIM Group resource.
pub fn render(found: &GroupWithMembers, base: &str) -> Value {
    let group = &found.group;
    let mut value = json!({
        "schemas": [GROUP],
        "id": group.id.to_string(),
        "displayName": group.name,
        "members": found.members.iter().map(|member| {
            let (kind, endpoint) = match member.kind() {
                MemberKind::User => ("User", "Users"),
                MemberKind::Group => ("Group", "Groups"),
            };
            json!({
                "value": member.id().to_string(),
                "$ref": format!("{base}/{endpoint}/{}", member.id()),
                "type": kind,
            })
        }).collect::<Vec<_>>(),
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

/// The members named by a `members` value: an array of `{"value": id}` (or one such
/// object), each with the `type` `User` or `Group` when the client says which.
fn members(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        single @ Value::Object(_) => std::slice::from_ref(single),
        _ => return Err(invalid("members", "must be an array of objects")),
    };
    items
        .iter()
        .map(|item| {
            let kind = match attribute(item, "type") {
                Value::Null => None,
                Value::String(kind) if kind.eq_ignore_ascii_case("User") => Some(MemberKind::User),
                Value::String(kind) if kind.eq_ignore_ascii_case("Group") => {
                    Some(MemberKind::Group)
                }
                _ => return Err(invalid("members.type", "must be \"User\" or \"Group\"")),
            };
            match attribute(item, "value") {
                Value::String(id) => match uuid::Uuid::try_parse(id) {
                    Ok(id) => Ok(MemberRef { id, kind }),
                    Err(_) => Err(invalid(
                        "members",
                        format!("no user or group with id {id} exists in the tenant"),
                    )),
                },
                _ => Err(invalid(
                    "members.value",
                    "must be a string, the member's id, in each member",
                )),
            }
        })
        .collect()
}

/// Member changes accumulated in request order, by member id.
#[derive(Default)]
struct Members {
    replace: Option<HashMap<Uuid, MemberRef>>,
    add: HashMap<Uuid, MemberRef>,
    remove: HashMap<Uuid, MemberRef>,
}

impl Members {
    fn add(&mut self, members: Vec<MemberRef>) {
        for member in members {
            self.remove.remove(&member.id);
            self.add.insert(member.id, member);
        }
    }

    fn remove(&mut self, members: Vec<MemberRef>) {
        for member in members {
            self.add.remove(&member.id);
            self.remove.insert(member.id, member);
        }
    }

    fn replace(&mut self, members: Vec<MemberRef>) {
        self.replace = Some(members.into_iter().map(|m| (m.id, m)).collect());
        self.add.clear();
        self.remove.clear();
    }

    /// Whether `id` is a member once the changes so far are made to `current`.
    fn holds(&self, id: &Uuid, current: &HashSet<Uuid>) -> bool {
        let before = match &self.replace {
            Some(replaced) => replaced.contains_key(id),
            None => current.contains(id),
        };
        (before || self.add.contains_key(id)) && !self.remove.contains_key(id)
    }

    fn into_change(self) -> MemberChange {
        MemberChange {
            replace: self.replace.map(|r| r.into_values().collect()),
            add: self.add.into_values().collect(),
            remove: self.remove.into_values().collect(),
        }
    }
}

/// Whether an operation removes members by a value filter: the one kind whose
/// outcome depends on the members the group has (`noTarget` when none match).
fn removes_by_filter(operation: &Operation) -> bool {
    operation.op == Op::Remove && operation.path.as_ref().is_some_and(|p| p.filter.is_some())
}

/// Reads a PatchOp request's operations into a change of the group's fields and
/// members; `current` holds the group's members when an operation removes by filter.
fn read_patch(
    operations: Vec<Operation>,
    current: &HashSet<Uuid>,
) -> Result<(GroupPatch, MemberChange), ScimError> {
    let mut patch = GroupPatch::default();
    let mut change = Members::default();
    for operation in operations {
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
            ("members", Op::Remove, Some(filter)) => {
                let named: Vec<MemberRef> = member_ids(filter)
                    .map_err(|e| ScimError::bad("invalidFilter", e.0))?
                    .into_iter()
                    .map(|id| MemberRef { id, kind: None })
                    .collect();
                // RFC 7644 §3.12: a path whose filter yields no match is noTarget.
                if !named.iter().any(|m| change.holds(&m.id, current)) {
                    return Err(ScimError::bad(
                        "noTarget",
                        "the value filter of \"members\" matches no member of the group",
                    ));
                }
                change.remove(named)
            }
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

/// One window of the groups a list or search asks for, each shaped as asked.
pub(super) async fn listing(
    state: &AppState,
    scim: &ScimCaller,
    params: &ListParams,
) -> Result<(i64, Vec<Value>), ScimError> {
    let read = |filter, sort, offset, count| async move {
        let directory = &state.directory;
        (directory.groups_with_members(&scim.caller, scim.tenant, &filter, sort, offset, count))
            .await
    };
    let render = |group: &GroupWithMembers| render(group, &scim.base);
    super::listing(params, group_filter, group_sort, read, render).await
}

/// The group as it is now.
pub(super) async fn read(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
) -> Result<Written, ScimError> {
    current(state, scim, group_id(id)?).await
}

/// Creates a group owned by SCIM from a SCIM Group resource, with its members, in
/// one transaction (`POST /Groups`, and in a bulk request).
pub(super) async fn create(
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
        .create_group_with_members(&scim.caller, scim.tenant, new, first_members)
        .await?;
    current(state, scim, id).await
}

/// Replaces the group's name, external id and members with a resource's, or
/// applies a PatchOp request to them, in one transaction.
pub(super) async fn change(
    how: Change,
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    body: &Value,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let id = group_id(id)?;
    let (patch, change) = match how {
        Change::Patch => {
            let operations = operations(body)?;
            let current: HashSet<Uuid> = if operations.iter().any(removes_by_filter) {
                let found = state
                    .directory
                    .group_with_members(&scim.caller, scim.tenant, id)
                    .await?;
                found.members.iter().map(|m| m.id()).collect()
            } else {
                HashSet::new()
            };
            read_patch(operations, &current)?
        }
        Change::Replace => (
            GroupPatch {
                name: Some(name(attribute(body, "displayName"))?),
                external_id: external_id(attribute(body, "externalId"))?
                    .map_or(Patch::Clear, Patch::Set),
                ..GroupPatch::default()
            },
            MemberChange {
                replace: Some(members(attribute(body, "members"))?),
                ..MemberChange::default()
            },
        ),
    };
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
        .change_group(&scim.caller, scim.tenant, id, patch, change, precondition)
        .await?;
    current(state, scim, id).await
}

async fn current(state: &AppState, scim: &ScimCaller, id: GroupId) -> Result<Written, ScimError> {
    let found = state
        .directory
        .group_with_members(&scim.caller, scim.tenant, id)
        .await?;
    Ok(Written {
        body: render(&found, &scim.base),
        version: found.group.version,
    })
}

/// Deletes the group.
pub(super) async fn delete(
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
