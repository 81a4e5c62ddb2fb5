//! /Users: the directory's users as SCIM User resources (mapping in docs/scim.md).

use serde_json::{Value, json};

use crate::domain::{
    Company, CountryCode, Email, ExternalId, NewPassword, NewUser, PasswordPolicy, Patch,
    PersonName, Phone, Role, Status, UserId, UserName, UserPatch,
};
use crate::domain::{Filter, Include, UserQuery, Window};
use crate::http::AppState;
use crate::service::{Listing, Precondition, Resource, ServiceError, UserWithGroups};

use super::error::ScimError;
use super::filter::{user_filter, user_sort};
use super::patch::{Attribute, Schema, apply, operations};
use super::resources::Change;
use super::schemas::{ENTERPRISE_USER, USER};
use super::{ListParams, ScimCaller, Written, attribute, invalid, parse_id};

/// A user as a SCIM User resource. Each multi-valued attribute has at most one
/// value, so none is marked `primary`; an empty name part is left out.
pub fn render(found: &UserWithGroups, base: &str) -> Value {
    let user = &found.user;
    // Groups by name, as SCIM has always listed them.
    let mut groups: Vec<&crate::domain::Group> = found.groups.iter().collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let mut schemas = vec![USER];
    let mut value = json!({
        "id": user.id.to_string(),
        "userName": user.user_name(),
        "emails": [{ "value": user.email, "type": "work" }],
        "roles": [{ "value": user.role.as_str() }],
        "active": user.status == Status::Active,
        "groups": groups.iter().map(|group| json!({
            "value": group.id.to_string(),
            "display": group.name,
            "$ref": format!("{base}/Groups/{}", group.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": user.created_at.rfc3339(),
            "lastModified": user.updated_at.rfc3339(),
            "location": format!("{base}/Users/{}", user.id),
            "version": super::etag(user.version),
        },
    });
    let mut name = serde_json::Map::new();
    for (key, part) in [
        ("givenName", &user.first_name),
        ("familyName", &user.last_name),
    ] {
        if !part.is_empty() {
            name.insert(key.to_owned(), json!(part));
        }
    }
    if !name.is_empty() {
        value["name"] = Value::Object(name);
        let display = format!("{} {}", user.first_name, user.last_name);
        value["displayName"] = json!(display.trim());
    }
    if let Some(external_id) = &user.external_id {
        value["externalId"] = json!(external_id);
    }
    if let Some(phone) = &user.phone {
        value["phoneNumbers"] = json!([{ "value": phone, "type": "work" }]);
    }
    if let Some(country) = &user.country_code {
        value["addresses"] = json!([{ "country": country, "type": "work" }]);
    }
    if let Some(company) = &user.company {
        schemas.push(ENTERPRISE_USER);
        value[ENTERPRISE_USER] = json!({ "organization": company });
    }
    value["schemas"] = json!(schemas);
    value
}

/// The attributes of a User resource that the directory keeps.
struct UserInput {
    email: Email,
    /// `None`: the userName is the email, and follows it.
    user_name: Option<UserName>,
    first_name: PersonName,
    last_name: PersonName,
    phone: Option<Phone>,
    company: Option<Company>,
    country_code: Option<CountryCode>,
    role: Option<Role>,
    active: Option<bool>,
    external_id: Option<ExternalId>,
    password: Option<NewPassword>,
}

/// The attributes PATCH paths may name on a User: the schemas' declarations
/// (docs/scim.md), with `primary` on the multi-valued ones, which is read to choose
/// among values sent.
pub(super) const USER_SCHEMA: Schema = Schema {
    urn: USER,
    core: &[
        Attribute::single("schemas").read_only(),
        Attribute::single("id").read_only(),
        Attribute::single("externalId"),
        Attribute::single("userName"),
        Attribute::complex("name", &["givenName", "familyName"]),
        Attribute::single("displayName").read_only(),
        Attribute::multi("emails", &["value", "type", "primary"]),
        Attribute::multi("phoneNumbers", &["value", "type", "primary"]),
        Attribute::multi("addresses", &["country", "type", "primary"]),
        Attribute::multi("roles", &["value", "primary"]),
        Attribute::single("active"),
        Attribute::single("password"),
        Attribute::multi("groups", &["value", "display", "$ref"]).read_only(),
        Attribute::complex(
            "meta",
            &[
                "resourceType",
                "created",
                "lastModified",
                "location",
                "version",
            ],
        )
        .read_only(),
    ],
    extension: Some((ENTERPRISE_USER, &[Attribute::single("organization")])),
};

/// A JSON value's type, as an error message names it.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 400 `invalidValue`: `field` must be of the JSON type `expected`.
fn wrong_type(field: &str, expected: &str, value: &Value) -> ScimError {
    invalid(
        field,
        format!("must be {expected}, not {}", json_type(value)),
    )
}

/// A string attribute of `object`, named `field` in errors.
fn text<'a>(object: &'a Value, name: &str, field: &str) -> Result<Option<&'a str>, ScimError> {
    match attribute(object, name) {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(wrong_type(field, "a string", other)),
    }
}

/// A complex attribute: an object, or null when absent.
fn complex<'a>(object: &'a Value, name: &str) -> Result<&'a Value, ScimError> {
    match attribute(object, name) {
        value @ (Value::Null | Value::Object(_)) => Ok(value),
        other => Err(wrong_type(name, "an object", other)),
    }
}

/// The values of a multi-valued attribute, each an object whose `subs` are strings
/// and whose `primary` is a boolean; `strings` also takes plain strings as values.
fn values<'a>(
    object: &'a Value,
    name: &str,
    subs: &[&str],
    strings: bool,
) -> Result<&'a [Value], ScimError> {
    let items = match attribute(object, name) {
        Value::Null => return Ok(&[]),
        Value::Array(items) => items.as_slice(),
        other => return Err(wrong_type(name, "an array", other)),
    };
    for item in items {
        match item {
            Value::Object(_) => {
                for sub in subs {
                    text(item, sub, &format!("{name}.{sub}"))?;
                }
                boolean(attribute(item, "primary"), &format!("{name}.primary"))?;
            }
            Value::String(_) if strings => {}
            other if strings => {
                return Err(wrong_type(name, "an array of objects or strings", other));
            }
            other => return Err(wrong_type(name, "an array of objects", other)),
        }
    }
    Ok(items)
}

/// The primary (or else the first) of a multi-valued attribute's values. When several
/// are marked primary, the last wins: a PATCH appends the value it makes primary, and
/// RFC 7644 §3.5.2 has that unmark the others.
fn primary(items: &[Value]) -> Option<&Value> {
    items
        .iter()
        .rev()
        .find(|i| match attribute(i, "primary") {
            Value::Bool(primary) => *primary,
            Value::String(primary) => primary.eq_ignore_ascii_case("true"),
            _ => false,
        })
        .or_else(|| items.first())
}

/// A boolean, also when sent as the string "True" or "False" (as Entra ID does).
fn boolean(value: &Value, name: &str) -> Result<Option<bool>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        other => Err(invalid(
            name,
            format!(
                "must be a boolean (true or false), not {}",
                json_type(other)
            ),
        )),
    }
}

/// Refuses read-only attributes of the wrong JSON type: PUT ignores their values,
/// but a body that sends `"meta": 5` is malformed all the same.
fn read_only_shapes(body: &Value) -> Result<(), ScimError> {
    match attribute(body, "schemas") {
        Value::Null => {}
        Value::Array(items) if items.iter().all(Value::is_string) => {}
        other => return Err(wrong_type("schemas", "an array of strings", other)),
    }
    text(body, "id", "id")?;
    text(body, "displayName", "displayName")?;
    complex(body, "meta")?;
    values(body, "groups", &["value", "display", "$ref"], false)?;
    Ok(())
}

fn parsed<T, E: std::fmt::Display>(
    field: &str,
    value: Option<&str>,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<Option<T>, ScimError> {
    value
        .map(|v| parse(v.to_owned()).map_err(|e| invalid(field, e)))
        .transpose()
}

/// Reads a User resource (a POST or PUT body, or a patched representation). Every
/// attribute the directory keeps is checked for its JSON type before anything is
/// read, so a wrong-typed one is 400 `invalidValue` naming it, never a cleared value.
fn read_user(body: &Value, policy: &PasswordPolicy) -> Result<UserInput, ScimError> {
    if !body.is_object() {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("the body must be a JSON object, not {}", json_type(body)),
        ));
    }
    read_only_shapes(body)?;
    let user_name =
        text(body, "userName", "userName")?.ok_or_else(|| invalid("userName", "is required"))?;
    let emails = values(body, "emails", &["value", "type"], false)?;
    let email = match primary(emails) {
        Some(item) => {
            let value = text(item, "value", "emails.value")?
                .ok_or_else(|| invalid("emails.value", "is required in each email"))?;
            Email::parse(value).map_err(|e| invalid("emails.value", e))?
        }
        None => Email::parse(user_name).map_err(|_| {
            invalid(
                "emails",
                format!(
                    "every user has an email address, and the request sends none: \
                     userName \"{user_name}\" is not one, and emails is absent"
                ),
            )
        })?,
    };
    let user_name = UserName::parse(user_name).map_err(|e| invalid("userName", e))?;
    let name = complex(body, "name")?;
    let first_name = parsed(
        "name.givenName",
        text(name, "givenName", "name.givenName")?,
        PersonName::parse,
    )?
    .unwrap_or_else(PersonName::empty);
    let last_name = parsed(
        "name.familyName",
        text(name, "familyName", "name.familyName")?,
        PersonName::parse,
    )?
    .unwrap_or_else(PersonName::empty);
    let phones = values(body, "phoneNumbers", &["value", "type"], false)?;
    let phone = match primary(phones) {
        Some(item) => parsed(
            "phoneNumbers.value",
            text(item, "value", "phoneNumbers.value")?,
            Phone::parse,
        )?,
        None => None,
    };
    let addresses = values(body, "addresses", &["country", "type"], false)?;
    let country_code = match primary(addresses) {
        Some(item) => parsed(
            "addresses.country",
            text(item, "country", "addresses.country")?,
            CountryCode::parse,
        )?,
        None => None,
    };
    let enterprise = complex(body, ENTERPRISE_USER)?;
    let company = parsed(
        "organization",
        text(enterprise, "organization", "organization")?,
        Company::parse,
    )?;
    let roles = values(body, "roles", &["value"], true)?;
    let role = match primary(roles) {
        Some(item) => {
            let value = match item {
                Value::String(s) => Some(s.as_str()),
                item => text(item, "value", "roles.value")?,
            };
            parsed("roles.value", value, |v| {
                v.to_ascii_lowercase().parse::<Role>()
            })?
        }
        None => None,
    };
    Ok(UserInput {
        email,
        user_name: Some(user_name),
        first_name,
        last_name,
        phone,
        company,
        country_code,
        role,
        active: boolean(attribute(body, "active"), "active")?,
        external_id: parsed(
            "externalId",
            text(body, "externalId", "externalId")?,
            ExternalId::parse,
        )?,
        password: parsed(
            "password",
            text(body, "password", "password")?,
            |password| policy.parse(password),
        )?,
    })
}

fn status(active: bool) -> Status {
    if active {
        Status::Active
    } else {
        Status::Disabled
    }
}

fn optional<T>(value: Option<T>) -> Patch<T> {
    value.map_or(Patch::Clear, Patch::Set)
}

impl UserInput {
    fn into_new_user(self) -> NewUser {
        NewUser {
            email: self.email,
            user_name: self.user_name,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            company: self.company,
            country_code: self.country_code,
            role: self.role.unwrap_or(Role::Member),
            status: status(self.active.unwrap_or(true)),
            external_id: self.external_id,
            password: self.password,
            password_hash: None,
        }
    }

    /// A replace: what the resource omits is cleared, except the role and status,
    /// which stay as they are unless named.
    fn into_patch(self) -> UserPatch {
        UserPatch {
            email: Some(self.email),
            user_name: optional(self.user_name),
            first_name: Some(self.first_name),
            last_name: Some(self.last_name),
            phone: optional(self.phone),
            company: optional(self.company),
            country_code: optional(self.country_code),
            role: self.role,
            status: self.active.map(status),
            external_id: optional(self.external_id),
            default_group_id: Patch::Keep,
        }
    }
}

/// The user with this id.
fn by_id(id: UserId) -> Filter<crate::domain::UserAttr> {
    Filter::Compare(
        crate::domain::UserAttr::Id,
        crate::domain::CompareOp::Eq,
        crate::domain::FilterValue::Id(id.as_uuid()),
    )
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    parse_id(id, UserId::parse, Resource::User)
}

/// One window of the users a list or search asks for, each shaped as asked.
pub(super) async fn listing(
    state: &AppState,
    scim: &ScimCaller,
    params: &ListParams,
) -> Result<(i64, Vec<Value>), ScimError> {
    let read = |filter, sort, offset, count| async move {
        let query = UserQuery {
            filter,
            sort,
            window: Window::Numbered {
                offset,
                count,
                total: true,
            },
            include: Include::Groups,
        };
        let list = (state.directory.users(&scim.caller, scim.tenant, &query)).await?;
        Ok(Listing {
            total: list.total.unwrap_or_default(),
            items: list.users,
        })
    };
    let declared = state
        .directory
        .attributes(&scim.caller, scim.tenant)
        .await?;
    let filter = |text: &str| user_filter(text, &declared);
    let render = |user: &UserWithGroups| render(user, &scim.base);
    super::listing(params, filter, user_sort, read, render).await
}

/// The user as it is now.
pub(super) async fn read(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
) -> Result<Written, ScimError> {
    let found = state
        .directory
        .user(&scim.caller, scim.tenant, by_id(user_id(id)?))
        .await?;
    Ok(written(&found, &scim.base))
}

/// Creates a user from a SCIM User resource (`POST /Users`, and in a bulk request).
pub(super) async fn create(
    state: &AppState,
    scim: &ScimCaller,
    body: &Value,
) -> Result<Written, ScimError> {
    let new = read_user(body, state.directory.password_policy())?.into_new_user();
    let user = state
        .directory
        .create_user(&scim.caller, scim.tenant, new)
        .await?;
    let found = UserWithGroups {
        user,
        groups: Vec::new(),
    };
    Ok(written(&found, &scim.base))
}

/// Replaces the user's attributes with a SCIM User resource's, or patches them.
/// A PatchOp request is applied to the user's resource and the result stored as a
/// replace made under the version read.
pub(super) async fn change(
    how: Change,
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    body: &Value,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let id = user_id(id)?;
    if how == Change::Replace {
        let patch = read_user(body, state.directory.password_policy())?.into_patch();
        return updated(state, scim, id, patch, precondition).await;
    }
    let operations = operations(body)?;
    let current = state
        .directory
        .user(&scim.caller, scim.tenant, by_id(id))
        .await?;
    if let Precondition::Versions(versions) = precondition
        && !versions.contains(&current.user.version)
    {
        return Err(ServiceError::PreconditionFailed.into());
    }
    let before = render(&current, &scim.base);
    let mut after = with_primaries(before.clone());
    for operation in &operations {
        apply(&mut after, operation, &USER_SCHEMA)?;
    }
    for required in ["roles", "active"] {
        let value = attribute(&after, required);
        if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
            return Err(ScimError::bad(
                "mutability",
                format!("{required} cannot be removed: every user has one; replace it instead"),
            ));
        }
    }
    let mut input = read_user(&after, state.directory.password_policy())?;
    // A userName that is the email goes on following it unless the patch names one.
    if current.user.user_name.is_none() && after["userName"] == before["userName"] {
        input.user_name = None;
    }
    // A pending user reads as inactive; only a change of `active` changes the status.
    if boolean(attribute(&after, "active"), "active")?
        == boolean(attribute(&before, "active"), "active")?
    {
        input.active = None;
    }
    let patch = input.into_patch();
    updated(
        state,
        scim,
        id,
        patch,
        Precondition::Versions(vec![current.user.version]),
    )
    .await
}

/// The resource a PATCH works on: each multi-valued attribute's one value marked
/// `primary`, as filters read it (`emails.primary eq true` matches every user), so
/// that a value filter on `primary` (`roles[primary eq "True"].value`) finds it.
fn with_primaries(mut resource: Value) -> Value {
    for name in ["emails", "phoneNumbers", "addresses", "roles"] {
        if let Some(values) = resource.get_mut(name).and_then(Value::as_array_mut) {
            for value in values.iter_mut().filter_map(Value::as_object_mut) {
                value.insert("primary".to_owned(), Value::Bool(true));
            }
        }
    }
    resource
}

async fn updated(
    state: &AppState,
    scim: &ScimCaller,
    id: UserId,
    patch: UserPatch,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let user = state
        .directory
        .update_user(&scim.caller, scim.tenant, id, patch, precondition)
        .await?;
    let found = state
        .directory
        .user(&scim.caller, scim.tenant, by_id(user.id))
        .await?;
    Ok(written(&found, &scim.base))
}

/// Deletes the user.
pub(super) async fn delete(
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    precondition: Precondition,
) -> Result<(), ScimError> {
    state
        .directory
        .delete_user(&scim.caller, scim.tenant, user_id(id)?, precondition)
        .await?;
    Ok(())
}

fn written(found: &UserWithGroups, base: &str) -> Written {
    Written {
        body: render(found, base),
        version: found.user.version,
    }
}
