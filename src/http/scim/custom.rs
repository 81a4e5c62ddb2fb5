//! The attributes a tenant declares, as the SCIM schema extension
//! [`CUSTOM_USER_SCHEMA`]: its schema for discovery, the values in a User resource,
//! and a write's values read from a request.

use serde_json::{Map, Value, json};

use crate::domain::{
    AttributeDefinition, AttributeValues, AttributeWrite, CUSTOM_USER_SCHEMA, Returned,
};

use super::error::ScimError;
use super::patch::Attribute;

/// The extension's schema: one attribute per declaration, with its characteristics
/// as declared. `None` when the tenant declares none.
pub fn schema(declared: &[AttributeDefinition]) -> Option<Value> {
    if declared.is_empty() {
        return None;
    }
    let attributes: Vec<Value> = declared
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "type": a.kind.as_str(),
                "multiValued": a.multi_valued,
                "description": a.description,
                "required": a.required,
                "caseExact": a.case_exact,
                "mutability": a.mutability.as_str(),
                "returned": a.returned.as_str(),
                "uniqueness": if a.unique { "server" } else { "none" },
            })
        })
        .collect();
    Some(json!({
        "id": CUSTOM_USER_SCHEMA,
        "name": "RosterUser",
        "description": "The attributes this tenant declares for its users",
        "attributes": attributes,
        "meta": { "resourceType": "Schema" }
    }))
}

/// Whether a value of `attribute` is part of a resource read back: never for one
/// written only or never returned, and for one returned on request only when the
/// `attributes` parameter names it (its full URN-qualified name or the extension).
fn shown(attribute: &AttributeDefinition, requested: Option<&str>) -> bool {
    if !attribute.is_read_back() {
        return false;
    }
    match attribute.returned {
        Returned::Never => false,
        Returned::Always | Returned::Default => true,
        Returned::Request => requested.is_some_and(|list| {
            list.split(',').map(str::trim).any(|name| {
                name.eq_ignore_ascii_case(CUSTOM_USER_SCHEMA)
                    || name.get(..CUSTOM_USER_SCHEMA.len() + 1).is_some_and(|urn| {
                        urn.eq_ignore_ascii_case(&format!("{CUSTOM_USER_SCHEMA}:"))
                    }) && name[CUSTOM_USER_SCHEMA.len() + 1..]
                        .eq_ignore_ascii_case(&attribute.name)
            })
        }),
    }
}

/// Adds the user's values to a User resource, under the extension's URN (and the
/// URN to its `schemas`), when it holds any that are shown: as a read shows them,
/// by their declarations and the `attributes` a request names (`requested`).
pub fn render(
    resource: &mut Value,
    declared: &[AttributeDefinition],
    values: Option<&AttributeValues>,
    requested: Option<&str>,
) {
    add(resource, declared, values, |a| shown(a, requested));
}

/// Adds every value the user holds, those never read back too: the representation
/// a PATCH works on, so that what it does not name stays as it is.
pub fn render_stored(
    resource: &mut Value,
    declared: &[AttributeDefinition],
    values: Option<&AttributeValues>,
) {
    add(resource, declared, values, |_| true);
}

fn add(
    resource: &mut Value,
    declared: &[AttributeDefinition],
    values: Option<&AttributeValues>,
    show: impl Fn(&AttributeDefinition) -> bool,
) {
    let Some(values) = values else { return };
    let mut extension = Map::new();
    for attribute in declared.iter().filter(|a| show(a)) {
        if let Some(json) = values
            .get(&attribute.key())
            .and_then(|held| attribute.values_to_json(held))
        {
            extension.insert(attribute.name.clone(), json);
        }
    }
    if extension.is_empty() {
        return;
    }
    if let Some(schemas) = resource.get_mut("schemas").and_then(Value::as_array_mut) {
        schemas.push(json!(CUSTOM_USER_SCHEMA));
    }
    resource[CUSTOM_USER_SCHEMA] = Value::Object(extension);
}

/// The PATCH paths of the declared attributes, checked as the standard ones are.
pub fn patch_attributes(declared: &[AttributeDefinition]) -> Vec<Attribute<'_>> {
    declared
        .iter()
        .map(|a| {
            if a.multi_valued {
                Attribute::multi(&a.name, &[])
            } else {
                Attribute::single(&a.name)
            }
        })
        .collect()
}

/// The declared attributes a User resource in a request names: its extension
/// object's members (an absent or `null` extension names none). A replace makes
/// them the user's only values; a create or patch changes only what is named.
pub fn read(body: &Value, replace: bool) -> Result<AttributeWrite, ScimError> {
    let extension = super::attribute(body, CUSTOM_USER_SCHEMA);
    let named: Vec<(String, Value)> = match extension {
        Value::Null => Vec::new(),
        Value::Object(members) => members
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        other => {
            return Err(ScimError::bad(
                "invalidValue",
                format!(
                    "{CUSTOM_USER_SCHEMA}: must be an object of declared attributes, not {}",
                    super::users::json_type(other)
                ),
            ));
        }
    };
    Ok(if replace {
        AttributeWrite::Replace(named)
    } else {
        AttributeWrite::Merge(named)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttributeType, AttributeValue, Mutability, TenantId, Timestamp};

    fn declared(name: &str, returned: Returned) -> AttributeDefinition {
        AttributeDefinition {
            tenant_id: TenantId::generate(),
            name: name.into(),
            description: String::new(),
            kind: AttributeType::Integer,
            multi_valued: false,
            required: false,
            unique: true,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned,
            version: 1,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn values_appear_under_the_extension_as_their_declarations_say() {
        let declared = [
            declared("badge", Returned::Default),
            declared("pin", Returned::Request),
            declared("secretCode", Returned::Never),
        ];
        let values: AttributeValues = ["badge", "pin", "secretcode"]
            .into_iter()
            .map(|k| (k.to_owned(), vec![AttributeValue::Integer(7)]))
            .collect();
        let mut resource = json!({ "schemas": ["core"] });
        render(&mut resource, &declared, Some(&values), None);
        assert_eq!(resource["schemas"], json!(["core", CUSTOM_USER_SCHEMA]));
        assert_eq!(resource[CUSTOM_USER_SCHEMA], json!({ "badge": 7 }));

        let mut asked = json!({ "schemas": ["core"] });
        let named = format!("userName,{CUSTOM_USER_SCHEMA}:PIN");
        render(&mut asked, &declared, Some(&values), Some(&named));
        assert_eq!(asked[CUSTOM_USER_SCHEMA], json!({ "badge": 7, "pin": 7 }));

        let mut none = json!({ "schemas": ["core"] });
        render(&mut none, &declared, None, None);
        assert_eq!(none, json!({ "schemas": ["core"] }));
    }

    #[test]
    fn the_schema_declares_each_attribute_as_declared() {
        assert!(schema(&[]).is_none());
        let schema = schema(&[declared("badge", Returned::Default)]).unwrap();
        assert_eq!(schema["id"], CUSTOM_USER_SCHEMA);
        assert_eq!(schema["attributes"][0]["type"], "integer");
        assert_eq!(schema["attributes"][0]["uniqueness"], "server");
    }

    #[test]
    fn a_request_names_values_in_the_extension_object() {
        let body = json!({ CUSTOM_USER_SCHEMA: { "badge": 7 } });
        assert_eq!(
            read(&body, false).unwrap(),
            AttributeWrite::Merge(vec![("badge".into(), json!(7))])
        );
        assert_eq!(
            read(&json!({}), true).unwrap(),
            AttributeWrite::Replace(vec![])
        );
        assert!(read(&json!({ CUSTOM_USER_SCHEMA: [1] }), false).is_err());
    }
}
