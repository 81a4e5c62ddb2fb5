//! Discovery (RFC 7644 §4, RFC 7643 §5–7): what this service provider supports and
//! the schemas of its resources, declared exactly as implemented.

use serde_json::{Value, json};

use crate::domain::CUSTOM_USER_SCHEMA;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources one list answers; a larger `count` is cut to this.
pub const MAX_RESULTS: u32 = 200;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/roster/roster/blob/main/docs/scim.md",
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": super::bulk::MAX_OPERATIONS,
            "maxPayloadSize": super::bulk::MAX_PAYLOAD_BYTES,
        },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A tenant API key or an access token, as Authorization: Bearer <token>",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

/// A resource type; the User type names the tenant's own extension when it has one.
fn resource_type(base: &str, name: &str, custom: bool) -> Value {
    let (endpoint, schema, description) = match name {
        "User" => ("/Users", USER, "A person in the tenant's directory"),
        _ => ("/Groups", GROUP, "A named set of the tenant's users"),
    };
    let mut value = json!({
        "schemas": [RESOURCE_TYPE],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{name}")
        }
    });
    if name == "User" {
        let mut extensions = vec![json!({ "schema": ENTERPRISE_USER, "required": false })];
        if custom {
            extensions.push(json!({ "schema": CUSTOM_USER_SCHEMA, "required": false }));
        }
        value["schemaExtensions"] = json!(extensions);
    }
    value
}

/// The resource types: `User` and `Group`.
pub fn resource_types(base: &str, custom: bool) -> Vec<Value> {
    vec![
        resource_type(base, "User", custom),
        resource_type(base, "Group", custom),
    ]
}

pub fn resource_type_by_id(base: &str, id: &str, custom: bool) -> Option<Value> {
    matches!(id, "User" | "Group").then(|| resource_type(base, id, custom))
}

/// An attribute definition with the defaults RFC 7643 §2.2 names.
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    })
}

fn with(mut value: Value, changes: Value) -> Value {
    if let (Some(target), Value::Object(changes)) = (value.as_object_mut(), changes) {
        target.extend(changes);
    }
    value
}

fn multi(name: &str, description: &str, sub: Vec<Value>) -> Value {
    with(
        attr(name, "complex", description),
        json!({ "multiValued": true, "subAttributes": sub }),
    )
}

/// A string with canonical values.
fn canonical(name: &str, description: &str, values: &[&str]) -> Value {
    with(
        attr(name, "string", description),
        json!({ "canonicalValues": values }),
    )
}

/// The sub-attributes of a multi-valued attribute (RFC 7643 §2.4): `value` as
/// `value` declares it, `display`, `type` (with its canonical values, if the RFC
/// gives them) and `primary`.
fn value_subs(value: Value, types: &[&str]) -> Vec<Value> {
    let kind = if types.is_empty() {
        attr("type", "string", "A label for the value's function")
    } else {
        canonical("type", "A label for the value's function", types)
    };
    vec![
        value,
        attr("display", "string", "A human-readable name for the value"),
        kind,
        attr(
            "primary",
            "boolean",
            "Whether this is the preferred value; at most one value is primary",
        ),
    ]
}

/// A string that may be read back in any letter case it was written (caseExact
/// false is the default; these are the attributes RFC 7643 makes case-exact).
fn case_exact(value: Value) -> Value {
    with(value, json!({ "caseExact": true }))
}

fn user_schema() -> Value {
    let reference = |name: &str, description: &str, types: &[&str]| {
        with(
            attr(name, "reference", description),
            json!({ "referenceTypes": types }),
        )
    };
    let address_subs = vec![
        attr(
            "formatted",
            "string",
            "The full mailing address, formatted for display",
        ),
        attr("streetAddress", "string", "The full street address"),
        attr("locality", "string", "The city or locality"),
        attr("region", "string", "The state or region"),
        attr("postalCode", "string", "The zip code or postal code"),
        attr(
            "country",
            "string",
            "The country name component (ISO 3166-1 alpha-2 \"code\" format recommended)",
        ),
        canonical(
            "type",
            "A label for the address's function",
            &["work", "home", "other"],
        ),
        attr(
            "primary",
            "boolean",
            "Whether this is the preferred mailing address; at most one is primary",
        ),
    ];
    json!({
        "id": USER,
        "name": "User",
        "description": "User Account",
        "attributes": [
            with(attr("userName", "string", "The user's email address unless the identity provider sends another name; unique in the tenant regardless of case"),
                 json!({ "required": true, "uniqueness": "server" })),
            with(attr("name", "complex", "The components of the user's real name"), json!({ "subAttributes": [
                attr("formatted", "string", "The full name, formatted for display"),
                attr("familyName", "string", "The family name (last name)"),
                attr("givenName", "string", "The given name (first name)"),
                attr("middleName", "string", "The middle name(s)"),
                attr("honorificPrefix", "string", "The honorific prefix(es), such as Ms."),
                attr("honorificSuffix", "string", "The honorific suffix(es), such as III"),
            ] })),
            attr("displayName", "string", "The name of the user, suitable for display; kept as written"),
            attr("nickName", "string", "The casual way to address the user"),
            reference("profileUrl", "A URI of the user's online profile", &["external"]),
            attr("title", "string", "The user's title, such as Vice President"),
            attr("userType", "string", "The relationship to the organization, such as Employee"),
            attr("preferredLanguage", "string", "The preferred written or spoken language (an Accept-Language value, such as en-US)"),
            attr("locale", "string", "The default location for localizing, such as en-US"),
            attr("timezone", "string", "The time zone, in the IANA database's format, such as America/Los_Angeles"),
            with(attr("active", "boolean", "Whether the user's status is active (true when not sent)"),
                 json!({ "required": true })),
            with(attr("password", "string", "Set on create or replace; never returned"),
                 json!({ "mutability": "writeOnly", "returned": "never" })),
            with(multi("emails", "Email addresses; the primary one (else the first) is the sign-in address. Declared required: every user has one, and without emails the userName must be one",
                  value_subs(with(attr("value", "string", "An email address"), json!({ "required": true })), &["work", "home", "other"])),
                 json!({ "required": true })),
            multi("phoneNumbers", "Phone numbers",
                  value_subs(attr("value", "string", "A phone number"), &["work", "home", "mobile", "fax", "pager", "other"])),
            multi("ims", "Instant messaging addresses",
                  value_subs(attr("value", "string", "An instant messaging address"), &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"])),
            multi("photos", "URLs of photos of the user",
                  value_subs(reference("value", "The URL of a photo", &["external"]), &["photo", "thumbnail"])),
            multi("addresses", "Physical mailing addresses", address_subs),
            with(multi("groups", "The groups the user belongs to: directly, or through a group within them", vec![
                with(attr("value", "string", "The group's id"), json!({ "mutability": "readOnly" })),
                with(reference("$ref", "The group's URI", &["Group"]), json!({ "mutability": "readOnly" })),
                with(attr("display", "string", "The group's name"), json!({ "mutability": "readOnly" })),
                with(canonical("type", "How the user belongs", &["direct", "indirect"]), json!({ "mutability": "readOnly" })),
            ]), json!({ "mutability": "readOnly" })),
            multi("entitlements", "Entitlements of the user",
                  value_subs(attr("value", "string", "An entitlement"), &[])),
            multi("roles", "Roles of the user, kept as written; a value \"admin\" (any case) makes the user an admin of the directory, else it is a member",
                  value_subs(attr("value", "string", "A role"), &[])),
            multi("x509Certificates", "Certificates of the user",
                  value_subs(case_exact(attr("value", "binary", "A DER-encoded X.509 certificate, base64")), &[])),
        ],
        "meta": { "resourceType": "Schema" }
    })
}

fn enterprise_schema() -> Value {
    json!({
        "id": ENTERPRISE_USER,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [
            attr("employeeNumber", "string", "A string identifier, typically numeric or alphanumeric, assigned to the person"),
            attr("costCenter", "string", "The name of a cost center"),
            attr("organization", "string", "The name of an organization"),
            attr("division", "string", "The name of a division"),
            attr("department", "string", "The name of a department"),
            with(attr("manager", "complex", "The user's manager: another user of the tenant"), json!({ "subAttributes": [
                attr("value", "string", "The id of the manager's User resource"),
                with(attr("$ref", "reference", "The URI of the manager's User resource"),
                     json!({ "referenceTypes": ["User"], "mutability": "readOnly" })),
                with(attr("displayName", "string", "The manager's displayName (else its names)"),
                     json!({ "mutability": "readOnly" })),
            ] })),
        ],
        "meta": { "resourceType": "Schema" }
    })
}

fn group_schema() -> Value {
    json!({
        "id": GROUP,
        "name": "Group",
        "description": "Group",
        "attributes": [
            with(attr("displayName", "string", "The group's name, unique in the tenant regardless of case"),
                 json!({ "required": true, "uniqueness": "server" })),
            multi("members", "The group's direct members: users, and groups whose members are then members too", vec![
                with(attr("value", "string", "The member's id"), json!({ "mutability": "immutable" })),
                with(attr("$ref", "reference", "The member's URI"),
                     json!({ "mutability": "immutable", "referenceTypes": ["User", "Group"] })),
                with(canonical("type", "Whether the member is a user or a group", &["User", "Group"]),
                     json!({ "mutability": "immutable" })),
            ]),
        ],
        "meta": { "resourceType": "Schema" }
    })
}

/// Every schema, with its location: the tenant's extension (`custom`) after the
/// standard ones when it has one.
pub fn schemas(base: &str, custom: Option<Value>) -> Vec<Value> {
    [user_schema(), enterprise_schema(), group_schema()]
        .into_iter()
        .chain(custom)
        .map(|mut schema| {
            let id = schema["id"].as_str().unwrap_or_default().to_owned();
            schema["schemas"] = json!([SCHEMA]);
            schema["meta"]["location"] = json!(format!("{base}/Schemas/{id}"));
            schema
        })
        .collect()
}

pub fn schema_by_id(base: &str, id: &str, custom: Option<Value>) -> Option<Value> {
    schemas(base, custom).into_iter().find(|s| s["id"] == id)
}

/// A list response of every item at once (discovery lists are small and fixed).
pub fn list_of(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items
    })
}
