//! What the OpenAPI document states beyond each handler's own annotation: the
//! statuses every operation of a kind can answer, and the text rules of the domain's
//! newtypes as JSON Schema keywords, so that the document and the validation cannot
//! drift apart (both read the same constants).

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Object, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

use crate::domain::{
    Action, Company, Description, Email, ExternalId, GroupName, KeyName, MAX_SUBJECT_CHARS,
    NewPassword, PasswordPolicy, PersonName, TenantName, UserName,
};

/// One character that may start or end a name: not a control character and not
/// white space (Rust's `char::is_control` and `char::is_whitespace`).
const EDGE: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// One character that may stand inside a name: not a control character.
const INSIDE: &str = r"[^\x00-\x1f\x7f-\x9f]";

/// A name that is not empty, has no control characters and no white space at
/// either end.
fn trimmed() -> String {
    format!("^{EDGE}(?:{INSIDE}*{EDGE})?$")
}

/// As [`trimmed`], or empty.
fn trimmed_or_empty() -> String {
    format!("^(?:{EDGE}(?:{INSIDE}*{EDGE})?)?$")
}

/// [`Email::parse`]: a dot-atom local part and a dotted domain. (The local part's
/// limit of 64 characters is left out: generators do not support the lookahead
/// that would state it.)
pub const EMAIL_PATTERN: &str = concat!(
    "^",
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@",
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
);
/// [`crate::domain::Phone::parse`]: digits with `+ - . ( ) /` and spaces.
const PHONE_PATTERN: &str = r"^[0-9 +\-.()/]*[0-9][0-9 +\-.()/]*$";
/// [`crate::domain::CountryCode::parse`]: two ASCII letters, either case.
const COUNTRY_PATTERN: &str = r"^[A-Za-z]{2}$";
/// [`crate::domain::PageCursor`]: a UUID's 16 bytes in unpadded base64url.
const CURSOR_PATTERN: &str = r"^[A-Za-z0-9_-]{21}[AQgw]$";
/// [`crate::domain::ImportedHash::parse`]: a bcrypt hash, an Argon2 PHC string, or a
/// PBKDF2 hash (PHC form or passlib's). Its bounds on costs and lengths are left to
/// the server's answer.
const IMPORTED_HASH_PATTERN: &str = concat!(
    r"^(?:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}",
    r"|\$argon2(?:id|i|d)\$[!-~]*\$[!-~]*\$[!-~]*",
    r"|\$pbkdf2(?:-sha256|-sha512)?\$[!-~]*\$[!-~]*\$[!-~]*)$"
);
/// [`crate::domain::group::parse_federated_values`]: 1 to 255 characters, none a
/// control character.
const PRINTABLE: &str = r"^[^\x00-\x1f\x7f-\x9f]+$";

/// A string's rule: its pattern and its length in characters.
struct TextRule {
    pattern: Option<String>,
    min: usize,
    max: usize,
}

fn rule(pattern: impl Into<String>, min: usize, max: usize) -> TextRule {
    TextRule {
        pattern: Some(pattern.into()),
        min,
        max,
    }
}

/// Which rule each request field is held to, by schema and property name.
fn text_rules(passwords: &PasswordPolicy) -> Vec<(&'static str, &'static str, TextRule)> {
    let email = || rule(EMAIL_PATTERN, 3, Email::MAX_CHARS);
    let person = || rule(trimmed_or_empty(), 0, PersonName::MAX_CHARS);
    let user_name = || rule(trimmed(), 1, UserName::MAX_CHARS);
    let phone = || rule(PHONE_PATTERN, 1, 32);
    let company = || rule(trimmed(), 1, Company::MAX_CHARS);
    let country = || rule(COUNTRY_PATTERN, 2, 2);
    let external_id = || rule(trimmed(), 1, ExternalId::MAX_CHARS);
    let group_name = || rule(trimmed(), 1, GroupName::MAX_CHARS);
    let description = || rule(trimmed_or_empty(), 0, Description::MAX_CHARS);
    let password = || rule(r"\S", passwords.min_chars(), NewPassword::MAX_CHARS);
    vec![
        (
            "TenantNameBody",
            "name",
            rule(trimmed(), 1, TenantName::MAX_CHARS),
        ),
        ("CreateUserBody", "email", email()),
        ("CreateUserBody", "userName", user_name()),
        ("CreateUserBody", "firstName", person()),
        ("CreateUserBody", "lastName", person()),
        ("CreateUserBody", "phone", phone()),
        ("CreateUserBody", "company", company()),
        ("CreateUserBody", "countryCode", country()),
        ("CreateUserBody", "externalId", external_id()),
        ("CreateUserBody", "password", password()),
        (
            "CreateUserBody",
            "passwordHash",
            rule(IMPORTED_HASH_PATTERN, 11, 512),
        ),
        ("UpdateUserBody", "email", email()),
        ("UpdateUserBody", "userName", user_name()),
        ("UpdateUserBody", "firstName", person()),
        ("UpdateUserBody", "lastName", person()),
        ("UpdateUserBody", "phone", phone()),
        ("UpdateUserBody", "company", company()),
        ("UpdateUserBody", "countryCode", country()),
        ("UpdateUserBody", "externalId", external_id()),
        ("CreateGroupBody", "name", group_name()),
        ("CreateGroupBody", "description", description()),
        ("CreateGroupBody", "externalId", external_id()),
        (
            "CreateGroupBody",
            "federatedAttributeValues",
            rule(PRINTABLE, 1, 255),
        ),
        ("UpdateGroupBody", "name", group_name()),
        ("UpdateGroupBody", "description", description()),
        ("UpdateGroupBody", "externalId", external_id()),
        (
            "UpdateGroupBody",
            "federatedAttributeValues",
            rule(PRINTABLE, 1, 255),
        ),
        (
            "CreateApiKeyBody",
            "name",
            rule(trimmed(), 1, KeyName::MAX_CHARS),
        ),
        ("CreateApiKeyBody", "description", description()),
        ("DeclareAttributeBody", "description", description()),
        ("ChangeAttributeBody", "description", description()),
        ("PasswordChangeBody", "newPassword", password()),
        ("PasswordBody", "password", password()),
        ("AcceptInvitationBody", "password", password()),
        ("ResetPasswordBody", "password", password()),
    ]
}

/// Which rule each query parameter is held to, by name (the same on every list).
fn parameter_rules() -> Vec<(&'static str, TextRule)> {
    vec![
        ("cursor", rule(CURSOR_PATTERN, 22, 22)),
        ("email", rule(EMAIL_PATTERN, 3, Email::MAX_CHARS)),
        ("actor", rule(PRINTABLE, 1, MAX_SUBJECT_CHARS)),
        ("target", rule(PRINTABLE, 1, MAX_SUBJECT_CHARS)),
        (
            "q",
            TextRule {
                pattern: None,
                min: 1,
                max: 200,
            },
        ),
    ]
}

fn audit_actions() -> Vec<serde_json::Value> {
    Action::ALL.iter().map(|a| a.as_str().into()).collect()
}

fn apply(object: &mut Object, rule: &TextRule) {
    object.pattern.clone_from(&rule.pattern);
    object.min_length = Some(rule.min);
    object.max_length = Some(rule.max);
}

/// Applies `rule` to a property's schema, or to its items when it is an array.
fn apply_to_property(schema: &mut RefOr<Schema>, rule: &TextRule) {
    match schema {
        RefOr::T(Schema::Object(object)) => apply(object, rule),
        RefOr::T(Schema::Array(array)) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(Schema::Object(object)) = items.as_mut()
            {
                apply(object, rule);
            }
        }
        _ => {}
    }
}

const PROBLEM: &str = "application/problem+json";

/// The statuses an operation can answer because of its kind, each with the problem
/// document: 401 without a valid credential, 403 for a write by a reader, 404 for a
/// path that names nothing, 400/413/415 for a bad body, 400 for bad query
/// parameters or a query string that cannot be read, 408 when the request outlives
/// the time limit, 414 and 431 for a request target or header fields over their
/// limits, 503 when the database cannot be reached.
fn common_statuses(
    method: &HttpMethod,
    operation: &Operation,
) -> Vec<(&'static str, &'static str)> {
    let secured = operation
        .security
        .as_ref()
        .is_none_or(|requirements| !requirements.iter().any(is_empty_requirement));
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let mut statuses = vec![];
    if secured {
        statuses.push((
            "401",
            "No credential, or an unknown, revoked or expired one",
        ));
        if !matches!(method, HttpMethod::Get) {
            statuses.push((
                "403",
                "The credential may not do this (a reader key writing)",
            ));
        }
    }
    if parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path))
    {
        statuses.push(("404", "No such object in this tenant, or a malformed id"));
    }
    if operation.request_body.is_some() {
        statuses.push(("400", "Malformed JSON, or fields that break a rule"));
        statuses.push(("413", "The body is over the size limit"));
        statuses.push(("415", "The body is not declared as JSON"));
    }
    if parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
    {
        statuses.push(("400", "A query parameter breaks a rule"));
    }
    statuses.push(("400", "The query string cannot be read"));
    statuses.push((
        "408",
        "The request took longer than the server's time limit",
    ));
    statuses.push(("414", "The request target is over the URI limit"));
    statuses.push(("431", "The header fields are over their limit"));
    statuses.push((
        "503",
        "The database cannot be reached; retry after Retry-After seconds",
    ));
    statuses
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

/// Adds to the document what every operation shares; see the module's comment.
pub struct Conventions {
    /// The server's password policy, whose least length the schemas state.
    pub passwords: PasswordPolicy,
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "clientBasic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        for (schema, property, rule) in text_rules(&self.passwords) {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema)
                && let Some(property) = object.properties.get_mut(property)
            {
                apply_to_property(property, &rule);
            }
        }
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut("AuditEventBody")
            && let Some(RefOr::T(Schema::Object(action))) = object.properties.get_mut("action")
        {
            action.enum_values = Some(audit_actions());
        }
        // Either a password or the hash of one, not both.
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut("CreateUserBody")
        {
            object
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "not".to_owned(),
                    serde_json::json!({ "required": ["password", "passwordHash"] }),
                );
        }

        let parameter_rules = parameter_rules();
        // Dynatrace's clients ask for tokens at their product's path.
        let dynatrace_token = openapi
            .paths
            .paths
            .get("/oauth2/token")
            .cloned()
            .map(|mut item| {
                if let Some(operation) = item.post.as_mut() {
                    operation.operation_id = Some("issueTokenAtDynatracePath".to_owned());
                }
                item
            });
        if let Some(item) = dynatrace_token {
            openapi
                .paths
                .paths
                .insert("/sso/oauth2/token".to_owned(), item);
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let native = path.starts_with("/v1/");
            let operations = [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                for parameter in operation.parameters.iter_mut().flatten() {
                    let rule = parameter_rules
                        .iter()
                        .find(|(name, _)| *name == parameter.name)
                        .map(|(_, rule)| rule);
                    let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() else {
                        continue;
                    };
                    if let Some(rule) = rule {
                        apply(object, rule);
                    }
                    if parameter.name == "action" && path.ends_with("/audit-events") {
                        object.enum_values = Some(audit_actions());
                    }
                }
                if !native {
                    continue;
                }
                for (status, description) in common_statuses(&method, operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_response(status, description));
                }
            }
        }
    }
}

fn problem_response(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM,
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    if status == "503" {
        response = response.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    if status == "401" {
        response = response.header(
            "WWW-Authenticate",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::String),
                )
                .build(),
        );
    }
    RefOr::T(response.build())
}
