//! Administration of a tenant's groups: the list, creating, renaming and deleting a
//! group, and its members (users, picked by email, and groups within it).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::domain::{
    Description, Email, Filter, Group, GroupId, GroupName, GroupOwner, GroupPatch, GroupsRelated,
    Membership, NewGroup, PageCursor, PageLimit, PageRequest, PrefixRange, TenantId, User,
    UserAttr, UserId, UserQuery, Window,
};
use crate::http::AppState;
use crate::service::{Precondition, ServiceError};

use super::pages::Chrome;
use super::session::Console;
use super::{Posted, UiError, render, see_other};

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    cursor: Option<String>,
    done: Option<String>,
}

fn page_after(cursor: Option<&str>) -> Result<PageRequest, UiError> {
    let after = cursor
        .filter(|c| !c.is_empty())
        .map(PageCursor::parse)
        .transpose()
        .map_err(|_| ServiceError::invalid("cursor", "that page link is not valid"))?;
    Ok(PageRequest {
        limit: PageLimit::new(PAGE_SIZE).unwrap_or_default(),
        after,
    })
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    chrome: Chrome,
    tenant: TenantId,
    groups: Vec<Group>,
    next: Option<String>,
    error: Option<String>,
    name: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let page = state
        .directory
        .list_groups(
            &console.caller,
            tenant,
            page_after(query.cursor.as_deref())?,
        )
        .await?;
    render(&GroupsPage {
        chrome: Chrome::of(&console, Some(tenant), "groups"),
        tenant,
        groups: page.items,
        next: page.next.map(|c| c.encode()),
        error: None,
        name: String::new(),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl GroupForm {
    fn parse(&self) -> Result<(GroupName, Description), ServiceError> {
        let name = GroupName::parse(self.name.trim())
            .map_err(|e| ServiceError::invalid("Name", e.reason))?;
        let description = match self.description.trim() {
            "" => Description::empty(),
            d => {
                Description::parse(d).map_err(|e| ServiceError::invalid("Description", e.reason))?
            }
        };
        Ok((name, description))
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<GroupForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let created = match form.parse() {
        Ok((name, description)) => {
            let new = NewGroup {
                name,
                description,
                owner: GroupOwner::Local,
                federated_attribute_values: vec![],
                external_id: None,
            };
            state
                .directory
                .create_group(&console.caller, tenant, new)
                .await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(group) => Ok(see_other(format!("/ui/t/{tenant}/groups/{}", group.id))),
        Err(error @ (ServiceError::Conflict { .. } | ServiceError::Invalid(_))) => {
            let page = state
                .directory
                .list_groups(&console.caller, tenant, page_after(None)?)
                .await?;
            let mut response = render(&GroupsPage {
                chrome: Chrome::of(&console, Some(tenant), "groups"),
                tenant,
                groups: page.items,
                next: page.next.map(|c| c.encode()),
                error: Some(form_error(&error)),
                name: form.name,
            })?;
            *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

/// What a refused form tells the person.
pub(super) fn form_error(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid(violations) => violations
            .iter()
            .map(|v| format!("{}: {}.", v.field, v.reason))
            .collect::<Vec<_>>()
            .join(" "),
        other => super::capitalised(&other.to_string()),
    }
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    chrome: Chrome,
    tenant: TenantId,
    group: Group,
    members: Vec<User>,
    next: Option<String>,
    subgroups: Vec<Group>,
    parents: Vec<Group>,
    choices: Vec<Group>,
    message: Option<&'static str>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let directory = &state.directory;
    let caller = &console.caller;
    let group = directory.get_group(caller, tenant, id).await?;
    let page = page_after(query.cursor.as_deref())?;
    let window = Window::After {
        after: page.after,
        limit: page.limit,
    };
    let members = directory
        .users(
            caller,
            tenant,
            &UserQuery::page(Filter::member_of(id, Membership::Direct), window),
        )
        .await?;
    let first = page_after(None)?;
    let subgroups = directory
        .related_groups(
            caller,
            tenant,
            GroupsRelated::Within(id, Membership::Direct),
            first,
        )
        .await?
        .items;
    let parents = directory
        .related_groups(
            caller,
            tenant,
            GroupsRelated::Containing(id, Membership::Direct),
            first,
        )
        .await?
        .items;
    let choices = directory
        .list_groups(
            caller,
            tenant,
            PageRequest {
                limit: PageLimit::new(200).unwrap_or_default(),
                after: None,
            },
        )
        .await?
        .items
        .into_iter()
        .filter(|g| g.id != id && !subgroups.contains(g))
        .collect();
    let message = match query.done.as_deref() {
        Some("renamed") => Some("Changes saved."),
        Some("added") => Some("Member added."),
        Some("removed") => Some("Member removed."),
        _ => None,
    };
    render(&GroupPage {
        chrome: Chrome::of(&console, Some(tenant), "groups"),
        tenant,
        group,
        members: members.users.into_iter().map(|u| u.user).collect(),
        next: members.next.map(|c| c.encode()),
        subgroups,
        parents,
        choices,
        message,
    })
}

pub(super) async fn rename(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Posted(form): Posted<GroupForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let (name, description) = form.parse()?;
    let patch = GroupPatch {
        name: Some(name),
        description: Some(description),
        ..GroupPatch::default()
    };
    state
        .directory
        .update_group(&console.caller, tenant, id, patch, Precondition::None)
        .await?;
    Ok(see_other(format!(
        "/ui/t/{tenant}/groups/{id}?done=renamed"
    )))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    state
        .directory
        .delete_group(&console.caller, tenant, id, Precondition::None)
        .await?;
    Ok(see_other(format!("/ui/t/{tenant}/groups")))
}

#[derive(Debug, Deserialize)]
pub(super) struct MemberForm {
    /// A user's email (from the picker), or empty when a group is added.
    #[serde(default)]
    email: String,
    /// A group to nest, or empty.
    #[serde(default)]
    group: String,
}

pub(super) async fn add_member(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, GroupId)>,
    Posted(form): Posted<MemberForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let directory = &state.directory;
    if !form.group.is_empty() {
        let member = GroupId::parse(&form.group)
            .map_err(|_| ServiceError::invalid("Group", "choose a group"))?;
        directory
            .add_member_group(&console.caller, tenant, id, member)
            .await?;
    } else {
        let email = Email::parse(form.email.trim())
            .map_err(|e| ServiceError::invalid("Email", e.reason))?;
        let user = directory
            .user(
                &console.caller,
                tenant,
                Filter::user_eq(UserAttr::Email, email.as_str()),
            )
            .await?;
        directory
            .add_member(&console.caller, tenant, id, user.user.id)
            .await?;
    }
    Ok(see_other(format!("/ui/t/{tenant}/groups/{id}?done=added")))
}

#[derive(Debug, Deserialize)]
pub(super) struct RemoveForm {
    /// `user` or `group`.
    #[serde(default)]
    kind: String,
}

pub(super) async fn remove_member(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id, member)): Path<(TenantId, GroupId, uuid::Uuid)>,
    Posted(form): Posted<RemoveForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let directory = &state.directory;
    if form.kind == "group" {
        directory
            .remove_member_group(&console.caller, tenant, id, GroupId::from_uuid(member))
            .await?;
    } else {
        directory
            .remove_member(&console.caller, tenant, id, UserId::from_uuid(member))
            .await?;
    }
    Ok(see_other(format!(
        "/ui/t/{tenant}/groups/{id}?done=removed"
    )))
}

#[derive(Template)]
#[template(path = "user_picker.html")]
struct UserPicker {
    users: Vec<User>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PickerQuery {
    #[serde(default)]
    email: String,
}

/// The picker's suggestions as an email is typed: the first ten users whose email
/// or name starts with it (htmx swaps them into the field's datalist).
pub(super) async fn user_picker(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<PickerQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let prefix = query.email.trim();
    if prefix.is_empty() || PrefixRange::parse(prefix).is_err() {
        return render(&UserPicker { users: vec![] });
    }
    let window = Window::After {
        after: None,
        limit: PageLimit::new(10).unwrap_or_default(),
    };
    let users = state
        .directory
        .users(
            &console.caller,
            tenant,
            &UserQuery::page(Filter::name_or_email_starts_with(prefix), window),
        )
        .await?;
    render(&UserPicker {
        users: users.users.into_iter().map(|u| u.user).collect(),
    })
}
