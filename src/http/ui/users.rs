//! Administration of a tenant's users: the list (search as you type, filters, keyset
//! pages), creating and inviting, and a user's page with what can be done to it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::{
    AttributeDefinition, AttributeType, AttributeValue, AttributeWrite, Email, Filter, Group,
    GroupId, GroupsRelated, Membership, Mutability, NewUser, PageCursor, PageLimit, PageRequest,
    PersonName, PrefixRange, Role, Status, TenantId, User, UserAttr, UserId, UserPatch, UserQuery,
    Window,
};
use crate::http::AppState;
use crate::service::{Precondition, ServiceError};
use crate::store::AuditFilter;

use super::pages::Chrome;
use super::session::Console;
use super::{Posted, UiError, render, see_other};

/// Users per page of the list.
const PAGE_SIZE: u32 = 50;
/// Groups offered in the list's filter and the user page's "add to group".
const GROUP_CHOICES: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    group: String,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    tenant: TenantId,
    query: ListQuery,
    groups: Vec<Group>,
    results: UserResults,
}

#[derive(Template)]
#[template(path = "users_results.html")]
struct UserResults {
    tenant: TenantId,
    users: Vec<User>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
    error: Option<String>,
}

impl ListQuery {
    /// The filter: every condition given must hold; what cannot be read is said.
    fn filter(&self) -> Result<Filter<UserAttr>, String> {
        let q = self.q.trim();
        if !q.is_empty() {
            PrefixRange::parse(q).map_err(|e| format!("Search: {}", e.reason))?;
        }
        let status: Option<Status> = match self.status.as_str() {
            "" => None,
            s => Some(s.parse().map_err(|_| "Unknown status.".to_owned())?),
        };
        let role: Option<Role> = match self.role.as_str() {
            "" => None,
            r => Some(r.parse().map_err(|_| "Unknown role.".to_owned())?),
        };
        let group = match self.group.as_str() {
            "" => None,
            g => Some(GroupId::parse(g).map_err(|_| "Unknown group.".to_owned())?),
        };
        Ok(Filter::all(
            [
                (!q.is_empty()).then(|| Filter::name_or_email_starts_with(q)),
                status.map(|s| Filter::user_eq(UserAttr::Status, s.as_str())),
                role.map(|r| Filter::user_eq(UserAttr::Role, r.as_str())),
                group.map(|g| Filter::member_of(g, Membership::Effective)),
            ]
            .into_iter()
            .flatten(),
        ))
    }

    fn next_page(&self, cursor: &PageCursor) -> String {
        serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("status", self.status.as_str()),
            ("role", self.role.as_str()),
            ("group", self.group.as_str()),
            ("cursor", cursor.encode().as_str()),
        ])
        .unwrap_or_default()
    }
}

/// One page of the users the query matches: a single read of the one query path.
async fn results(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
    query: &ListQuery,
) -> Result<UserResults, UiError> {
    let empty = |error| UserResults {
        tenant,
        users: vec![],
        next: None,
        error: Some(error),
    };
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(error) => return Ok(empty(error)),
    };
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => match PageCursor::parse(cursor) {
            Ok(cursor) => Some(cursor),
            Err(_) => return Ok(empty("That page link is not valid.".to_owned())),
        },
        None => None,
    };
    let window = Window::After {
        after,
        limit: PageLimit::new(PAGE_SIZE).unwrap_or_default(),
    };
    let list = state
        .directory
        .users(&console.caller, tenant, &UserQuery::page(filter, window))
        .await?;
    Ok(UserResults {
        tenant,
        users: list.users.into_iter().map(|u| u.user).collect(),
        next: list.next.map(|cursor| query.next_page(&cursor)),
        error: None,
    })
}

/// The tenant's first groups, for choosing one.
async fn group_choices(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
) -> Result<Vec<Group>, UiError> {
    let page = PageRequest {
        limit: PageLimit::new(GROUP_CHOICES).unwrap_or_default(),
        after: None,
    };
    Ok(state
        .directory
        .list_groups(&console.caller, tenant, page)
        .await?
        .items)
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let results = results(&state, &console, tenant, &query).await?;
    // htmx asks for the results alone as the search is typed.
    if headers.contains_key("hx-request") && !headers.contains_key("hx-boosted") {
        return render(&results);
    }
    let groups = group_choices(&state, &console, tenant).await?;
    render(&UsersPage {
        chrome: Chrome::of(&console, Some(tenant), "users"),
        tenant,
        query,
        groups,
        results,
    })
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct NewUserPage {
    chrome: Chrome,
    tenant: TenantId,
    form: NewUserForm,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    role: String,
    /// `invite` (the user chooses its password from a link) or `password`.
    #[serde(default)]
    access: String,
    #[serde(default, skip_serializing)]
    password: SecretString,
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    render(&NewUserPage {
        chrome: Chrome::of(&console, Some(tenant), "users"),
        tenant,
        form: NewUserForm {
            access: "invite".to_owned(),
            ..NewUserForm::default()
        },
        error: None,
        min_chars: state.directory.password_policy().min_chars(),
    })
}

impl NewUserForm {
    fn parse(&self, policy: &crate::domain::PasswordPolicy) -> Result<NewUser, String> {
        let email = Email::parse(self.email.trim()).map_err(|e| format!("Email {}.", e.reason))?;
        let name = |field: &str, value: &str| {
            PersonName::parse(value.trim()).map_err(|e| format!("{field} {}.", e.reason))
        };
        let first_name = name("First name", &self.first_name)?;
        let last_name = name("Last name", &self.last_name)?;
        let role: Role = self.role.parse().map_err(|_| "Choose a role.".to_owned())?;
        let (status, password) = if self.access == "password" {
            let password = policy
                .parse(self.password.expose_secret().to_owned())
                .map_err(|e| format!("The password {}.", e.reason))?;
            (Status::Active, Some(password))
        } else {
            (Status::Pending, None)
        };
        Ok(NewUser {
            email,
            user_name: None,
            first_name,
            last_name,
            profile: Default::default(),
            role,
            status,
            external_id: None,
            password,
            password_hash: None,
            attributes: Default::default(),
        })
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<NewUserForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let refused = |form: NewUserForm, error: String| -> Result<Response, UiError> {
        let mut response = render(&NewUserPage {
            chrome: Chrome::of(&console, Some(tenant), "users"),
            tenant,
            form,
            error: Some(error),
            min_chars: state.directory.password_policy().min_chars(),
        })?;
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        Ok(response)
    };
    let new = match form.parse(state.directory.password_policy()) {
        Ok(new) => new,
        Err(error) => return refused(form, error),
    };
    let invite = new.status == Status::Pending;
    let user = match state
        .directory
        .create_user(&console.caller, tenant, new)
        .await
    {
        Ok(user) => user,
        Err(ServiceError::Conflict { message, .. }) => {
            return refused(form, super::capitalised(&message));
        }
        Err(ServiceError::Invalid(violations)) => {
            let message = violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.reason))
                .collect::<Vec<_>>()
                .join("; ");
            return refused(form, message);
        }
        Err(other) => return Err(other.into()),
    };
    if invite {
        return show_with(
            &state,
            &console,
            tenant,
            user.id,
            invitation(&state, &console, tenant, user.id).await?,
        )
        .await;
    }
    Ok(see_other(format!(
        "/ui/t/{tenant}/users/{}?done=created",
        user.id
    )))
}

/// What a user's page says at its top after an action.
#[derive(Debug, Default)]
struct Outcome {
    message: Option<String>,
    /// What a refused change tells the administrator.
    error: Option<String>,
    /// A one-time link to hand over (an invitation or a reset without mail).
    link: Option<SecretString>,
}

/// What the page says after a link was made: mailed to the user, or (without
/// mail) the link itself, shown to the administrator once.
fn delivered(delivery: crate::service::Delivery, what: &str) -> Outcome {
    match delivery {
        crate::service::Delivery::Mailed { to } => Outcome {
            message: Some(format!("{what} mailed to {to}.")),
            error: None,
            link: None,
        },
        crate::service::Delivery::Link { url, expires_at } => Outcome {
            message: Some(format!(
                "{what} made. No mail is set up on this server: give this link to the user; \
                 it works once, until {expires_at}."
            )),
            error: None,
            link: Some(url),
        },
    }
}

/// Invites a pending user: mailed when mail is set up, else its link is shown.
async fn invitation(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
    user: UserId,
) -> Result<Outcome, UiError> {
    let delivery = state
        .directory
        .send_invitation(&console.caller, tenant, user)
        .await?;
    Ok(delivered(delivery, "Invitation"))
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    tenant: TenantId,
    user: User,
    direct_groups: Vec<Group>,
    effective_groups: Vec<Group>,
    groups: Vec<Group>,
    events: Vec<super::audit::EventRow>,
    message: Option<String>,
    error: Option<String>,
    link: Option<String>,
    /// The tenant's declared attributes with this user's values.
    attributes: Vec<AttributeField>,
}

/// A declared attribute as the user's page shows and edits it.
struct AttributeField {
    name: String,
    description: String,
    /// The input's type: `text`, `number` or `select` (booleans).
    input: &'static str,
    /// The decimal input's step.
    step: &'static str,
    multi_valued: bool,
    required: bool,
    /// Changed on this page only when it may be written (`readWrite`).
    editable: bool,
    /// The values in words: one per line when multi-valued.
    value: String,
}

impl AttributeField {
    fn of(definition: &AttributeDefinition, user: &User) -> Self {
        let values: Vec<String> = user
            .attributes
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&definition.name))
            .map(|(_, values)| values.iter().map(value_as_text).collect())
            .unwrap_or_default();
        let (input, step) = match definition.kind {
            AttributeType::Boolean => ("select", ""),
            AttributeType::Integer => ("number", "1"),
            AttributeType::Decimal => ("number", "any"),
            _ => ("text", ""),
        };
        Self {
            name: definition.name.clone(),
            description: definition.description.clone(),
            input,
            step,
            multi_valued: definition.multi_valued,
            required: definition.required,
            editable: definition.mutability == Mutability::ReadWrite,
            value: values.join("\n"),
        }
    }
}

/// A value as the form writes it back: booleans `true`/`false`, times RFC 3339.
fn value_as_text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::String(s) | AttributeValue::Reference(s) => s.clone(),
        AttributeValue::Boolean(b) => b.to_string(),
        AttributeValue::Integer(i) => i.to_string(),
        AttributeValue::Decimal(d) => d.to_string(),
        AttributeValue::DateTime(t) => t.to_string(),
    }
}

/// The JSON value a form's text stands for, by the attribute's type; the service
/// checks it against the declaration (text that is not a number stays text, and is
/// refused with the reason).
fn text_as_value(kind: AttributeType, text: &str) -> serde_json::Value {
    use serde_json::Value;
    let text = text.trim();
    match kind {
        AttributeType::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        },
        AttributeType::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        AttributeType::Decimal => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_owned())),
        _ => Value::String(text.to_owned()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let message = match query.done.as_deref() {
        Some("created") => Some("User created."),
        Some("updated") => Some("Changes saved."),
        Some("enabled") => Some("The user may sign in again."),
        Some("disabled") => Some("The user is disabled and cannot sign in."),
        Some("unlocked") => Some("The account's sign-in lock is lifted."),
        Some("two-factor-off") => Some("Two-factor sign-in is off for this user."),
        Some("joined") => Some("Added to the group."),
        Some("left") => Some("Removed from the group."),
        _ => None,
    };
    let outcome = Outcome {
        message: message.map(str::to_owned),
        ..Outcome::default()
    };
    show_with(&state, &console, tenant, id, outcome).await
}

async fn show_with(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
    id: UserId,
    outcome: Outcome,
) -> Result<Response, UiError> {
    let directory = &state.directory;
    let user = directory.get_user(&console.caller, tenant, id).await?;
    let page = PageRequest {
        limit: PageLimit::new(100).unwrap_or_default(),
        after: None,
    };
    let direct_groups = directory
        .related_groups(
            &console.caller,
            tenant,
            GroupsRelated::OfUser(id, Membership::Direct),
            page,
        )
        .await?
        .items;
    let effective_groups = directory
        .related_groups(
            &console.caller,
            tenant,
            GroupsRelated::OfUser(id, Membership::Effective),
            page,
        )
        .await?
        .items;
    let filter = AuditFilter {
        target_id: Some(id.to_string()),
        newest_first: true,
        ..AuditFilter::default()
    };
    let events = directory
        .list_audit_events(&console.caller, tenant, &filter, page)
        .await?
        .items
        .into_iter()
        .map(super::audit::EventRow::from)
        .collect();
    let groups = group_choices(state, console, tenant).await?;
    let declared = directory.attributes(&console.caller, tenant).await?;
    let attributes = declared
        .iter()
        .map(|definition| AttributeField::of(definition, &user))
        .collect();
    render(&UserPage {
        chrome: Chrome::of(console, Some(tenant), "users"),
        tenant,
        user,
        direct_groups,
        effective_groups,
        groups,
        events,
        message: outcome.message,
        error: outcome.error,
        link: outcome.link.map(|l| l.expose_secret().to_owned()),
        attributes,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct UpdateForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    role: String,
}

pub(super) async fn update(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Posted(form): Posted<UpdateForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let invalid = |field: &str, reason: String| ServiceError::invalid(field, reason);
    let patch = UserPatch {
        first_name: Some(
            PersonName::parse(form.first_name.trim())
                .map_err(|e| invalid("First name", e.reason))?,
        ),
        last_name: Some(
            PersonName::parse(form.last_name.trim()).map_err(|e| invalid("Last name", e.reason))?,
        ),
        role: Some(
            form.role
                .parse()
                .map_err(|_| invalid("Role", "choose admin or member".to_owned()))?,
        ),
        ..UserPatch::default()
    };
    state
        .directory
        .update_user(&console.caller, tenant, id, patch, Precondition::None)
        .await?;
    Ok(see_other(format!("/ui/t/{tenant}/users/{id}?done=updated")))
}

/// The buttons of a user's page: each one service call.
pub(super) async fn act(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id, action)): Path<(TenantId, UserId, String)>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let directory = &state.directory;
    let caller = &console.caller;
    let status = |status| UserPatch {
        status: Some(status),
        ..UserPatch::default()
    };
    let done = match action.as_str() {
        "enable" => {
            directory
                .update_user(
                    caller,
                    tenant,
                    id,
                    status(Status::Active),
                    Precondition::None,
                )
                .await?;
            "enabled"
        }
        "disable" => {
            directory
                .update_user(
                    caller,
                    tenant,
                    id,
                    status(Status::Disabled),
                    Precondition::None,
                )
                .await?;
            "disabled"
        }
        "unlock" => {
            directory.unlock_user(caller, tenant, id).await?;
            "unlocked"
        }
        "two-factor-off" => {
            directory.disable_two_factor(caller, tenant, id).await?;
            "two-factor-off"
        }
        "invite" => {
            let outcome = invitation(&state, &console, tenant, id).await?;
            return show_with(&state, &console, tenant, id, outcome).await;
        }
        "reset-password" => {
            let delivery = directory.send_password_reset(caller, tenant, id).await?;
            let outcome = delivered(delivery, "Password reset link");
            return show_with(&state, &console, tenant, id, outcome).await;
        }
        "delete" => {
            directory
                .delete_user(caller, tenant, id, Precondition::None)
                .await?;
            return Ok(see_other(format!("/ui/t/{tenant}/users")));
        }
        _ => return Err(UiError::Refused(crate::http::face::Refusal::NoSuchPath)),
    };
    Ok(see_other(format!("/ui/t/{tenant}/users/{id}?done={done}")))
}

#[derive(Debug, Deserialize)]
pub(super) struct GroupForm {
    #[serde(default)]
    group: String,
    /// `join` or `leave`.
    #[serde(default)]
    change: String,
}

pub(super) async fn join_group(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Posted(form): Posted<GroupForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let group = GroupId::parse(&form.group)
        .map_err(|_| ServiceError::invalid("Group", "choose a group"))?;
    let leave = form.change == "leave";
    if leave {
        state
            .directory
            .remove_member(&console.caller, tenant, group, id)
            .await?;
    } else {
        state
            .directory
            .add_member(&console.caller, tenant, group, id)
            .await?;
    }
    let done = if leave { "left" } else { "joined" };
    Ok(see_other(format!("/ui/t/{tenant}/users/{id}?done={done}")))
}

/// Writes the declared attributes the form shows: each editable one's text, an empty
/// one cleared. A refusal is shown on the page with the reason.
pub(super) async fn set_attributes(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let directory = &state.directory;
    let declared = directory.attributes(&console.caller, tenant).await?;
    let written: Vec<(String, serde_json::Value)> = declared
        .iter()
        .filter(|d| d.mutability == Mutability::ReadWrite)
        .filter_map(|d| {
            let field = format!("attr.{}", d.name);
            let text = form.iter().find(|(name, _)| *name == field)?.1.as_str();
            let value = if d.multi_valued {
                let values: Vec<serde_json::Value> = text
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(|line| text_as_value(d.kind, line))
                    .collect();
                serde_json::Value::Array(values)
            } else if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                text_as_value(d.kind, text)
            };
            Some((d.name.clone(), value))
        })
        .collect();
    let patch = UserPatch {
        attributes: AttributeWrite::Merge(written),
        ..UserPatch::default()
    };
    let outcome = match directory
        .update_user(&console.caller, tenant, id, patch, Precondition::None)
        .await
    {
        Ok(_) => Outcome {
            message: Some("Attributes saved.".to_owned()),
            ..Outcome::default()
        },
        Err(error @ (ServiceError::Invalid(_) | ServiceError::Conflict { .. })) => Outcome {
            error: Some(super::groups::form_error(&error)),
            ..Outcome::default()
        },
        Err(other) => return Err(other.into()),
    };
    let failed = outcome.error.is_some();
    let mut response = show_with(&state, &console, tenant, id, outcome).await?;
    if failed {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}
