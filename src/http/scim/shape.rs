//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which attributes of a
//! rendered resource a reply keeps. `id` and `schemas` are returned always; the
//! password is never rendered in the first place.

use serde_json::{Map, Value};

use super::schemas::{ENTERPRISE_USER, GROUP, USER};

/// A requested attribute: top-level name (or extension URN) and optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    attr: String,
    sub: Option<String>,
}

/// Reads a comma-separated list of attribute paths, names compared in any case.
fn names(list: &str) -> Vec<Name> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            let lower = n.to_ascii_lowercase();
            // A core schema's URN prefix names the resource's own attributes.
            let local = [USER, GROUP]
                .iter()
                .find_map(|urn| lower.strip_prefix(&format!("{}:", urn.to_ascii_lowercase())))
                .unwrap_or(&lower)
                .to_owned();
            // An extension alone, or an extension's attribute: the URN is the
            // top-level key.
            if local.eq_ignore_ascii_case(ENTERPRISE_USER) {
                return Name {
                    attr: local,
                    sub: None,
                };
            }
            if let Some((urn, attr)) = local.rsplit_once(':') {
                return Name {
                    attr: urn.to_owned(),
                    sub: Some(attr.to_owned()),
                };
            }
            match local.split_once('.') {
                Some((attr, sub)) => Name {
                    attr: attr.to_owned(),
                    sub: Some(sub.to_owned()),
                },
                None => Name {
                    attr: local,
                    sub: None,
                },
            }
        })
        .collect()
}

fn always(key: &str) -> bool {
    key == "id" || key == "schemas"
}

/// Keeps only the sub-attributes named `subs` of an object, or of each element.
fn keep_subs(value: &mut Value, subs: &[&str]) {
    let keep = |object: &mut Map<String, Value>| {
        object.retain(|k, _| subs.iter().any(|s| k.eq_ignore_ascii_case(s)));
    };
    match value {
        Value::Object(object) => keep(object),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(keep),
        _ => {}
    }
}

/// Drops the sub-attributes named `subs` of an object, or of each element.
fn drop_subs(value: &mut Value, subs: &[&str]) {
    let drop = |object: &mut Map<String, Value>| {
        object.retain(|k, _| !subs.iter().any(|s| k.eq_ignore_ascii_case(s)));
    };
    match value {
        Value::Object(object) => drop(object),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(drop),
        _ => {}
    }
}

/// Applies `attributes` (when given it wins) or `excludedAttributes` to a resource.
pub fn shape(mut resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    if let Some(list) = attributes {
        let wanted = names(list);
        object.retain(|key, value| {
            let lower = key.to_ascii_lowercase();
            if always(&lower) {
                return true;
            }
            let matching: Vec<&Name> = wanted.iter().filter(|n| n.attr == lower).collect();
            if matching.is_empty() {
                return false;
            }
            if matching.iter().all(|n| n.sub.is_some()) {
                let subs: Vec<&str> = matching.iter().filter_map(|n| n.sub.as_deref()).collect();
                keep_subs(value, &subs);
            }
            true
        });
    } else if let Some(list) = excluded {
        let unwanted = names(list);
        object.retain(|key, value| {
            let lower = key.to_ascii_lowercase();
            if always(&lower) {
                return true;
            }
            if unwanted.iter().any(|n| n.attr == lower && n.sub.is_none()) {
                return false;
            }
            let subs: Vec<&str> = unwanted
                .iter()
                .filter(|n| n.attr == lower)
                .filter_map(|n| n.sub.as_deref())
                .collect();
            if !subs.is_empty() {
                drop_subs(value, &subs);
            }
            true
        });
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER],
            "id": "1",
            "userName": "a@b.co",
            "name": { "givenName": "A", "familyName": "B" },
            "emails": [{ "value": "a@b.co", "type": "work" }],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "organization": "O" },
            "meta": { "resourceType": "User" },
        })
    }

    #[test]
    fn attributes_keep_what_they_name_and_id_always() {
        assert_eq!(
            shape(user(), Some("userName, name.givenName"), None),
            json!({ "schemas": [USER], "id": "1", "userName": "a@b.co", "name": { "givenName": "A" } })
        );
        assert_eq!(
            shape(
                user(),
                Some("urn:ietf:params:scim:schemas:core:2.0:User:emails.value"),
                None
            ),
            json!({ "schemas": [USER], "id": "1", "emails": [{ "value": "a@b.co" }] })
        );
        assert_eq!(
            shape(
                user(),
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"),
                None
            ),
            json!({
                "schemas": [USER], "id": "1",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "organization": "O" }
            })
        );
    }

    #[test]
    fn excluded_attributes_drop_what_they_name_but_never_id() {
        let shaped = shape(user(), None, Some("id,emails,name.familyName,meta"));
        assert_eq!(
            shaped,
            json!({
                "schemas": [USER], "id": "1", "userName": "a@b.co",
                "name": { "givenName": "A" },
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "organization": "O" },
            })
        );
    }
}
