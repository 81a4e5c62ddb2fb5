//! /Users: the directory's users as SCIM User resources (mapping in docs/scim.md).

use serde_json::{Value, json};

use crate::domain::{
    ADDRESSES, Address, Email, Enterprise, ExternalId, Manager, MultiValue, NameParts, NewPassword,
    NewUser, PasswordPolicy, Patch, PersonName, Profile, Status, User, UserId, UserName, UserPatch,
    ValueList,
};
use crate::domain::{
    AttributeDefinition, AttributeWrite, CUSTOM_USER_SCHEMA, Filter, Include, UserQuery, Window,
};
use crate::http::AppState;
use crate::service::{Listing, Precondition, Resource, UserWithGroups};

use super::custom;
use super::error::ScimError;
use super::filter::{user_filter, user_sort};
use super::patch::{Attribute, Operation, Schema, apply, operations};
use super::resources::Change;
use super::schemas::{ENTERPRISE_USER, USER};
use super::{ListParams, ScimCaller, Written, attribute, invalid, parse_id};

/// A user as a SCIM User resource: every attribute stored, as it was written; absent
/// ones are left out, and `primary` appears where it was written.
pub fn render(found: &UserWithGroups, base: &str) -> Value {
    let user = &found.user;
    let profile = &user.profile;
    // Every group the user is in, directly or through a group within it (RFC 7643
    // §4.1.2), by name, as SCIM has always listed them.
    let mut groups: Vec<&crate::service::MemberOf> = found.groups.iter().collect();
    groups.sort_by(|a, b| a.group.name.cmp(&b.group.name));
    let resource = json!({
        "id": user.id.to_string(),
        "userName": user.user_name(),
        "active": user.status == Status::Active,
        "groups": groups.iter().map(|of| json!({
            "value": of.group.id.to_string(),
            "display": of.group.name,
            "$ref": format!("{base}/Groups/{}", of.group.id),
            "type": if of.direct { "direct" } else { "indirect" },
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": user.created_at.rfc3339(),
            "lastModified": user.updated_at.rfc3339(),
            "location": format!("{base}/Users/{}", user.id),
            "version": super::etag(user.version),
        },
    });
    let mut object = match resource {
        Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let name = texts(&[
        ("formatted", profile.name.formatted.clone()),
        ("familyName", some(&user.last_name)),
        ("givenName", some(&user.first_name)),
        ("middleName", profile.name.middle_name.clone()),
        ("honorificPrefix", profile.name.honorific_prefix.clone()),
        ("honorificSuffix", profile.name.honorific_suffix.clone()),
    ]);
    if !name.is_empty() {
        object.insert("name".to_owned(), Value::Object(name));
    }
    object.extend(texts(&[
        ("externalId", user.external_id.clone()),
        ("displayName", profile.display_name.clone()),
        ("nickName", profile.nick_name.clone()),
        ("profileUrl", profile.profile_url.clone()),
        ("title", profile.title.clone()),
        ("userType", profile.user_type.clone()),
        ("preferredLanguage", profile.preferred_language.clone()),
        ("locale", profile.locale.clone()),
        ("timezone", profile.timezone.clone()),
    ]));
    for list in ValueList::ALL {
        let values = profile.list(list);
        if !values.is_empty() {
            let rendered = values.iter().map(render_value).collect();
            object.insert(list.as_str().to_owned(), Value::Array(rendered));
        }
    }
    if !profile.addresses.is_empty() {
        let rendered = profile.addresses.iter().map(render_address).collect();
        object.insert(ADDRESSES.to_owned(), Value::Array(rendered));
    }
    let mut schemas = vec![USER];
    let enterprise = &profile.enterprise;
    let mut extension = texts(&[
        ("employeeNumber", enterprise.employee_number.clone()),
        ("costCenter", enterprise.cost_center.clone()),
        ("organization", enterprise.organization.clone()),
        ("division", enterprise.division.clone()),
        ("department", enterprise.department.clone()),
    ]);
    if let Some(manager) = &enterprise.manager {
        // A reference to a resource that is not there (yet) would be a broken link.
        let mut reference = json!({ "value": manager.id.to_string() });
        if manager.found {
            reference["$ref"] = json!(format!("{base}/Users/{}", manager.id));
        }
        if let Some(display) = &manager.display_name {
            reference["displayName"] = json!(display);
        }
        extension.insert("manager".to_owned(), reference);
    }
    if !extension.is_empty() {
        schemas.push(ENTERPRISE_USER);
        object.insert(ENTERPRISE_USER.to_owned(), Value::Object(extension));
    }
    object.insert("schemas".to_owned(), json!(schemas));
    Value::Object(object)
}

/// The named texts that are present, as a JSON object.
fn texts(pairs: &[(&str, Option<String>)]) -> serde_json::Map<String, Value> {
    pairs
        .iter()
        .filter_map(|(name, text)| Some(((*name).to_owned(), Value::String(text.clone()?))))
        .collect()
}

fn render_value(item: &MultiValue) -> Value {
    let mut value = Value::Object(texts(&[
        ("value", item.value.clone()),
        ("type", item.kind.clone()),
        ("display", item.display.clone()),
    ]));
    if let Some(primary) = item.primary {
        value["primary"] = Value::Bool(primary);
    }
    value
}

fn render_address(address: &Address) -> Value {
    let mut value = Value::Object(texts(&[
        ("formatted", address.formatted.clone()),
        ("streetAddress", address.street_address.clone()),
        ("locality", address.locality.clone()),
        ("region", address.region.clone()),
        ("postalCode", address.postal_code.clone()),
        ("country", address.country.clone()),
        ("type", address.kind.clone()),
    ]));
    if let Some(primary) = address.primary {
        value["primary"] = Value::Bool(primary);
    }
    value
}

/// The attributes of a User resource that the directory keeps.
struct UserInput {
    email: Email,
    /// `None`: the userName is the email, and follows it.
    user_name: Option<UserName>,
    first_name: PersonName,
    last_name: PersonName,
    profile: Profile,
    active: Option<bool>,
    external_id: Option<ExternalId>,
    password: Option<NewPassword>,
    /// The values of the tenant's declared attributes: all of them, as a replace.
    attributes: AttributeWrite,
}

/// The sub-attributes of each multi-valued attribute but addresses (RFC 7643 §2.4).
const VALUE_SUBS: &[&str] = &["value", "type", "primary", "display"];
const ADDRESS_SUBS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
];

/// The attributes PATCH paths may name on a User: the schemas' declarations
/// (docs/scim.md).
pub(super) const USER_SCHEMA: Schema<'static> = Schema {
    urn: USER,
    core: &[
        Attribute::single("schemas").read_only(),
        Attribute::single("id").read_only(),
        Attribute::single("externalId"),
        Attribute::single("userName"),
        Attribute::complex(
            "name",
            &[
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            ],
        ),
        Attribute::single("displayName"),
        Attribute::single("nickName"),
        Attribute::single("profileUrl"),
        Attribute::single("title"),
        Attribute::single("userType"),
        Attribute::single("preferredLanguage"),
        Attribute::single("locale"),
        Attribute::single("timezone"),
        Attribute::single("active"),
        Attribute::single("password"),
        Attribute::multi("emails", VALUE_SUBS),
        Attribute::multi("phoneNumbers", VALUE_SUBS),
        Attribute::multi("ims", VALUE_SUBS),
        Attribute::multi("photos", VALUE_SUBS),
        Attribute::multi("addresses", ADDRESS_SUBS),
        Attribute::multi("groups", &["value", "display", "$ref", "type"]).read_only(),
        Attribute::multi("entitlements", VALUE_SUBS),
        Attribute::multi("roles", VALUE_SUBS),
        Attribute::multi("x509Certificates", VALUE_SUBS),
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
    extensions: &[(
        ENTERPRISE_USER,
        &[
            Attribute::single("employeeNumber"),
            Attribute::single("costCenter"),
            Attribute::single("organization"),
            Attribute::single("division"),
            Attribute::single("department"),
            Attribute::complex("manager", &["value", "$ref", "displayName"]),
        ],
    )],
};

pub(super) use crate::domain::json_kind as json_type;

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

/// A string attribute, owned.
fn owned(object: &Value, name: &str, field: &str) -> Result<Option<String>, ScimError> {
    Ok(text(object, name, field)?.map(str::to_owned))
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
                for sub in subs.iter().filter(|s| **s != "primary") {
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

/// A multi-valued attribute's values as written; a plain string is a value.
fn multi_values(body: &Value, list: ValueList) -> Result<Vec<MultiValue>, ScimError> {
    let name = list.as_str();
    values(body, name, VALUE_SUBS, true)?
        .iter()
        .map(|item| {
            if let Value::String(value) = item {
                return Ok(MultiValue {
                    value: Some(value.clone()),
                    ..MultiValue::default()
                });
            }
            Ok(MultiValue {
                value: owned(item, "value", &format!("{name}.value"))?,
                kind: owned(item, "type", &format!("{name}.type"))?,
                primary: boolean(attribute(item, "primary"), &format!("{name}.primary"))?,
                display: owned(item, "display", &format!("{name}.display"))?,
            })
        })
        .collect()
}

fn addresses(body: &Value) -> Result<Vec<Address>, ScimError> {
    values(body, ADDRESSES, ADDRESS_SUBS, false)?
        .iter()
        .map(|item| {
            let sub = |name: &str| owned(item, name, &format!("addresses.{name}"));
            Ok(Address {
                formatted: sub("formatted")?,
                street_address: sub("streetAddress")?,
                locality: sub("locality")?,
                region: sub("region")?,
                postal_code: sub("postalCode")?,
                country: sub("country")?,
                kind: sub("type")?,
                primary: boolean(attribute(item, "primary"), "addresses.primary")?,
            })
        })
        .collect()
}

/// The manager: `{"value": id}`, or the id alone as Entra ID's PATCH sends it.
fn manager(enterprise: &Value) -> Result<Option<Manager>, ScimError> {
    let id = match attribute(enterprise, "manager") {
        Value::Null => return Ok(None),
        Value::String(id) => id.as_str(),
        reference @ Value::Object(_) => match text(reference, "value", "manager.value")? {
            Some(id) => id,
            None => return Ok(None),
        },
        other => return Err(wrong_type("manager", "an object", other)),
    };
    if id.is_empty() {
        return Ok(None);
    }
    let id = UserId::parse(id)
        .map_err(|_| invalid("manager.value", "must be the id of a user of the tenant"))?;
    Ok(Some(Manager::id(id)))
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
    complex(body, "meta")?;
    values(body, "groups", &["value", "display", "$ref", "type"], false)?;
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
    let name = complex(body, "name")?;
    let enterprise = complex(body, ENTERPRISE_USER)?;
    let mut profile = Profile {
        display_name: owned(body, "displayName", "displayName")?,
        nick_name: owned(body, "nickName", "nickName")?,
        profile_url: owned(body, "profileUrl", "profileUrl")?,
        title: owned(body, "title", "title")?,
        user_type: owned(body, "userType", "userType")?,
        preferred_language: owned(body, "preferredLanguage", "preferredLanguage")?,
        locale: owned(body, "locale", "locale")?,
        timezone: owned(body, "timezone", "timezone")?,
        name: NameParts {
            formatted: owned(name, "formatted", "name.formatted")?,
            middle_name: owned(name, "middleName", "name.middleName")?,
            honorific_prefix: owned(name, "honorificPrefix", "name.honorificPrefix")?,
            honorific_suffix: owned(name, "honorificSuffix", "name.honorificSuffix")?,
        },
        addresses: addresses(body)?,
        enterprise: Enterprise {
            employee_number: owned(enterprise, "employeeNumber", "employeeNumber")?,
            cost_center: owned(enterprise, "costCenter", "costCenter")?,
            organization: owned(enterprise, "organization", "organization")?,
            division: owned(enterprise, "division", "division")?,
            department: owned(enterprise, "department", "department")?,
            manager: manager(enterprise)?,
        },
        ..Profile::default()
    };
    for list in ValueList::ALL {
        *profile.list_mut(list) = multi_values(body, list)?;
    }
    profile
        .check()
        .map_err(|violation| invalid(&violation.field, violation.reason))?;
    let email = match profile.sign_in_email() {
        Some(value) => Email::parse(value).map_err(|e| invalid("emails.value", e))?,
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
    Ok(UserInput {
        email,
        user_name: Some(user_name),
        first_name,
        last_name,
        profile,
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
        attributes: custom::read(body, true)?,
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
            role: self.profile.role(),
            profile: self.profile,
            status: status(self.active.unwrap_or(true)),
            external_id: self.external_id,
            password: self.password,
            password_hash: None,
            attributes: self.attributes,
        }
    }

    /// A replace: what the resource omits is cleared, except the status, which stays
    /// as it is unless `active` is named; the role follows the roles written.
    fn into_patch(self) -> UserPatch {
        UserPatch {
            email: Some(self.email),
            user_name: optional(self.user_name),
            first_name: Some(self.first_name),
            last_name: Some(self.last_name),
            profile: Some(self.profile),
            status: self.active.map(status),
            external_id: optional(self.external_id),
            attributes: self.attributes,
            ..UserPatch::default()
        }
    }
}

/// A new user from a User resource, read exactly as `POST /Users` reads one: for an
/// import of a SCIM ListResponse.
pub(crate) fn new_user(body: &Value, policy: &PasswordPolicy) -> Result<NewUser, ScimError> {
    Ok(read_user(body, policy)?.into_new_user())
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
    let requested = params.attributes.as_deref();
    let render = |user: &UserWithGroups| resource(user, &scim.base, &declared, requested);
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
    let declared = declared(state, scim).await?;
    Ok(written(&found, &scim.base, &declared))
}

/// The attributes the caller's tenant declares.
async fn declared(
    state: &AppState,
    scim: &ScimCaller,
) -> Result<Vec<AttributeDefinition>, ScimError> {
    Ok(state
        .directory
        .attributes(&scim.caller, scim.tenant)
        .await?)
}

/// A user as a SCIM User resource with the values of its tenant's declared
/// attributes, as a read shows them.
pub fn resource(
    found: &UserWithGroups,
    base: &str,
    declared: &[AttributeDefinition],
    requested: Option<&str>,
) -> Value {
    let mut value = render(found, base);
    custom::render(
        &mut value,
        declared,
        Some(&found.user.attributes),
        requested,
    );
    value
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
    let declared = declared(state, scim).await?;
    Ok(written(&found, &scim.base, &declared))
}

/// Replaces the user's attributes with a SCIM User resource's, or patches them.
/// A PatchOp request is applied to the user's resource as it is stored, under the
/// user's lock, and the result stored as a replace: one service call, one transaction.
pub(super) async fn change(
    how: Change,
    state: &AppState,
    scim: &ScimCaller,
    id: &str,
    body: &Value,
    precondition: Precondition,
) -> Result<Written, ScimError> {
    let id = user_id(id)?;
    let policy = state.directory.password_policy();
    if how == Change::Replace {
        let patch = read_user(body, policy)?.into_patch();
        let user = state
            .directory
            .update_user(&scim.caller, scim.tenant, id, patch, precondition)
            .await?;
        let declared = declared(state, scim).await?;
        return with_groups(state, scim, user, &declared).await;
    }
    let operations = operations(body)?;
    let declared = declared(state, scim).await?;
    let patched = |current: &User| patched(current, &operations, policy, &scim.base, &declared);
    let user = state
        .directory
        .change_user(&scim.caller, scim.tenant, id, precondition, patched)
        .await?;
    with_groups(state, scim, user, &declared).await
}

/// The replace a PatchOp amounts to: its operations applied to the user's resource,
/// read back as a User resource.
fn patched(
    current: &User,
    operations: &[Operation],
    policy: &PasswordPolicy,
    base: &str,
    declared: &[AttributeDefinition],
) -> Result<UserPatch, ScimError> {
    let found = UserWithGroups {
        user: current.clone(),
        groups: Vec::new(),
    };
    let mut after = render(&found, base);
    custom::render_stored(&mut after, declared, Some(&current.attributes));
    let custom_attributes = custom::patch_attributes(declared);
    let extensions = [
        USER_SCHEMA.extensions[0],
        (CUSTOM_USER_SCHEMA, custom_attributes.as_slice()),
    ];
    let schema = Schema {
        extensions: &extensions,
        ..USER_SCHEMA
    };
    for operation in operations {
        apply(&mut after, operation, &schema)?;
    }
    last_primary_wins(&mut after);
    if attribute(&after, "active").is_null() {
        return Err(ScimError::bad(
            "mutability",
            "active cannot be removed: every user has one; replace it instead",
        ));
    }
    Ok(read_user(&after, policy)?.into_patch())
}

/// RFC 7644 §3.5.2: a value a PATCH makes primary unmarks the others, so of several
/// marked after the operations, the last (the one added or changed) keeps it.
fn last_primary_wins(resource: &mut Value) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    for (_, values) in object.iter_mut() {
        let Some(values) = values.as_array_mut() else {
            continue;
        };
        let primaries: Vec<usize> = (0..values.len())
            .filter(|&i| {
                matches!(
                    boolean(attribute(&values[i], "primary"), "primary"),
                    Ok(Some(true))
                )
            })
            .collect();
        if let Some((_, earlier)) = primaries.split_last() {
            for &i in earlier {
                if let Some(value) = values[i].as_object_mut() {
                    value.retain(|k, _| !k.eq_ignore_ascii_case("primary"));
                }
            }
        }
    }
}

/// The user as written, with its groups.
async fn with_groups(
    state: &AppState,
    scim: &ScimCaller,
    user: User,
    declared: &[AttributeDefinition],
) -> Result<Written, ScimError> {
    let found = state
        .directory
        .with_user_groups(&scim.caller, scim.tenant, user)
        .await?;
    Ok(written(&found, &scim.base, declared))
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

fn written(found: &UserWithGroups, base: &str, declared: &[AttributeDefinition]) -> Written {
    Written {
        body: resource(found, base, declared, None),
        version: found.user.version,
    }
}
