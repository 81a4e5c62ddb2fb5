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

/// `type`, the one sub-attribute beside the value that every multi-valued attribute
/// of a user has. There is at most one value, so `primary` is accepted (to choose
/// among several sent) but not kept.
fn work_type() -> Value {
    with(
        attr("type", "string", "Always \"work\""),
        json!({ "canonicalValues": ["work"] }),
    )
}

/// The ISO 3166-1 alpha-2 codes, declared as `addresses.country`'s canonical values.
const COUNTRY_CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM \
    BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX \
    CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG \
    GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR \
    IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV \
    LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE \
    NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
    RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF \
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF \
    WS YE YT ZA ZM ZW";

fn user_schema() -> Value {
    let mut emails = vec![with(
        attr("value", "string", "The user's email address"),
        json!({ "required": true }),
    )];
    emails.push(work_type());
    let mut phones = vec![attr("value", "string", "The user's phone number")];
    phones.push(work_type());
    let countries: Vec<&str> = COUNTRY_CODES.split_whitespace().collect();
    let mut addresses = vec![with(
        attr("country", "string", "ISO 3166-1 alpha-2 country code"),
        json!({ "canonicalValues": countries }),
    )];
    addresses.push(work_type());
    json!({
        "id": USER,
        "name": "User",
        "description": "User Account",
        "attributes": [
            with(attr("userName", "string", "The user's email address unless the identity provider sends another name; unique in the tenant regardless of case"),
                 json!({ "required": true, "uniqueness": "server" })),
            with(attr("name", "complex", "The user's name"), json!({ "subAttributes": [
                attr("givenName", "string", "First name"),
                attr("familyName", "string", "Last name"),
            ] })),
            with(attr("displayName", "string", "Given and family name"), json!({ "mutability": "readOnly" })),
            with(multi("emails", "The user's email address; may be left out when userName is one", emails),
                 json!({ "required": true })),
            multi("phoneNumbers", "At most one phone number", phones),
            multi("addresses", "At most one address, of which the country is kept", addresses),
            with(multi("roles", "The user's one role: admin or member (member when not sent)", vec![
                with(attr("value", "string", "admin or member"), json!({ "canonicalValues": ["admin", "member"] })),
            ]), json!({ "required": true })),
            with(attr("active", "boolean", "Whether the user's status is active (true when not sent)"),
                 json!({ "required": true })),
            with(attr("password", "string", "Set on create or replace; never returned"),
                 json!({ "mutability": "writeOnly", "returned": "never" })),
            with(multi("groups", "The groups the user belongs to", vec![
                attr("value", "string", "The group's id"),
                attr("display", "string", "The group's name"),
                with(attr("$ref", "reference", "The group's URI"), json!({ "referenceTypes": ["Group"] })),
            ]), json!({ "mutability": "readOnly" })),
        ],
        "meta": { "resourceType": "Schema" }
    })
}

fn enterprise_schema() -> Value {
    json!({
        "id": ENTERPRISE_USER,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [attr("organization", "string", "The user's company")],
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
            multi("members", "The group's users", vec![
                with(attr("value", "string", "The user's id"), json!({ "mutability": "immutable" })),
                with(attr("$ref", "reference", "The user's URI"),
                     json!({ "mutability": "immutable", "referenceTypes": ["User"] })),
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
