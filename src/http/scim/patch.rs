//! PATCH (RFC 7644 §3.5.2): the operations of a PatchOp request, and the engine that
//! applies them to a resource's SCIM representation. The face then reads the
//! patched representation back like a PUT body, so that every attribute PATCH can
//! reach is validated by the same rules as a replace.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, Expr, Literal, PatchPath};
use super::schemas::PATCH_OP;
use crate::domain::CompareOp;

/// What an operation does; the wire names are read in any letter case (Entra ID
/// sends `Replace`, `Add`, `Remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// One operation of a PatchOp request.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Reads a PatchOp request body.
pub fn operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let declared = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == PATCH_OP));
    if !declared {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("a PATCH body declares the schema {PATCH_OP}"),
        ));
    }
    let Some(list) = body["Operations"].as_array() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "Operations must be an array",
        ));
    };
    list.iter()
        .map(|operation| {
            let op = match operation["op"]
                .as_str()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => {
                    return Err(ScimError::bad(
                        "invalidSyntax",
                        "op must be add, replace or remove",
                    ));
                }
            };
            let path = match &operation["path"] {
                Value::Null => None,
                Value::String(path) => {
                    Some(PatchPath::parse(path).map_err(|e| ScimError::bad("invalidPath", e.0))?)
                }
                _ => return Err(ScimError::bad("invalidPath", "path must be a string")),
            };
            let value = operation.get("value").filter(|v| !v.is_null()).cloned();
            if path.is_none() && op == Op::Remove {
                return Err(ScimError::bad("noTarget", "remove needs a path"));
            }
            if op != Op::Remove && value.is_none() {
                return Err(ScimError::bad(
                    "invalidValue",
                    "add and replace need a value",
                ));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Whether an element of a multi-valued attribute matches a value filter.
fn matches(element: &Value, filter: &Expr) -> bool {
    match filter {
        Expr::And(l, r) => matches(element, l) && matches(element, r),
        Expr::Or(l, r) => matches(element, l) || matches(element, r),
        Expr::Not(inner) => !matches(element, inner),
        Expr::ValuePath(..) => false,
        Expr::Present(path) => !field(element, path).is_null(),
        Expr::Compare(path, op, literal) => {
            let actual = field(element, path);
            match (actual, literal) {
                (Value::String(a), Literal::Text(v)) => {
                    let (a, v) = (a.to_lowercase(), v.to_lowercase());
                    match op {
                        CompareOp::Eq => a == v,
                        CompareOp::Ne => a != v,
                        CompareOp::Co => a.contains(&v),
                        CompareOp::Sw => a.starts_with(&v),
                        CompareOp::Ew => a.ends_with(&v),
                        CompareOp::Gt => a > v,
                        CompareOp::Ge => a >= v,
                        CompareOp::Lt => a < v,
                        CompareOp::Le => a <= v,
                    }
                }
                (Value::Bool(a), Literal::Bool(v)) => match op {
                    CompareOp::Eq => a == v,
                    CompareOp::Ne => a != v,
                    _ => false,
                },
                (Value::Null, Literal::Null) => *op == CompareOp::Eq,
                _ => *op == CompareOp::Ne,
            }
        }
    }
}

/// The value of `path` (relative to an element) in `element`, names in any case.
fn field<'a>(element: &'a Value, path: &AttrPath) -> &'a Value {
    let get = |value: &'a Value, name: &str| -> &'a Value {
        value
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map_or(&Value::Null, |(_, v)| v)
    };
    let value = get(element, &path.attr);
    match &path.sub {
        Some(sub) => get(value, sub),
        None => value,
    }
}

/// The key under which `object` holds `name` (in any case), or `name` itself.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// The object that holds a path's attribute: the resource, or its extension's.
fn container<'a>(
    resource: &'a mut Value,
    path: &AttrPath,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::bad("invalidValue", "the resource is not an object"))?;
    let Some(schema) = &path.schema else {
        return Ok(root);
    };
    if schema == super::schemas::USER || schema == super::schemas::GROUP {
        return Ok(root);
    }
    let key = key_of(root, schema);
    let extension = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !extension.is_object() {
        *extension = Value::Object(Map::new());
    }
    extension
        .as_object_mut()
        .ok_or_else(|| ScimError::bad("invalidValue", "the extension is not an object"))
}

/// Applies one operation to `resource` (its SCIM representation).
pub fn apply(resource: &mut Value, operation: &Operation) -> Result<(), ScimError> {
    let Some(path) = &operation.path else {
        // No path: the value is an object of attributes (or paths) to add or replace.
        let Some(Value::Object(values)) = &operation.value else {
            return Err(ScimError::bad(
                "invalidValue",
                "without a path, the value is an object",
            ));
        };
        for (name, value) in values {
            let is_extension = value.is_object()
                && AttrPath::parse(&format!("{name}:x")).is_ok_and(|p| p.schema.is_some());
            if is_extension {
                for (attr, value) in value.as_object().into_iter().flatten() {
                    let path = PatchPath::parse(&format!("{name}:{attr}"))
                        .map_err(|e| ScimError::bad("invalidPath", e.0))?;
                    apply_at(resource, operation.op, &path, Some(value))?;
                }
                continue;
            }
            let path = PatchPath::parse(name).map_err(|e| ScimError::bad("invalidPath", e.0))?;
            apply_at(resource, operation.op, &path, Some(value))?;
        }
        return Ok(());
    };
    apply_at(resource, operation.op, path, operation.value.as_ref())
}

fn apply_at(
    resource: &mut Value,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let object = container(resource, &path.attr)?;
    let key = key_of(object, &path.attr.attr);
    match (&path.filter, &path.attr.sub) {
        (None, None) => match op {
            Op::Remove => {
                object.remove(&key);
            }
            Op::Add => {
                let value = value.cloned().unwrap_or(Value::Null);
                match (object.get_mut(&key), value) {
                    (Some(Value::Array(current)), Value::Array(more)) => current.extend(more),
                    (Some(Value::Object(current)), Value::Object(more)) => current.extend(more),
                    (_, value) => {
                        object.insert(key, value);
                    }
                }
            }
            Op::Replace => {
                let value = value.cloned().unwrap_or(Value::Null);
                match (object.get_mut(&key), value) {
                    (Some(Value::Object(current)), Value::Object(more)) => current.extend(more),
                    (_, value) => {
                        object.insert(key, value);
                    }
                }
            }
        },
        (None, Some(sub)) => {
            let parent = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            if let Some(parent) = parent.as_object_mut() {
                let sub_key = key_of(parent, sub);
                match op {
                    Op::Remove => {
                        parent.remove(&sub_key);
                    }
                    _ => {
                        parent.insert(sub_key, value.cloned().unwrap_or(Value::Null));
                    }
                }
            }
        }
        (Some(filter), _) => {
            let list = object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            let Some(list) = list.as_array_mut() else {
                return Ok(());
            };
            let hits: Vec<usize> = (0..list.len())
                .filter(|&i| matches(&list[i], filter))
                .collect();
            match (op, &path.sub) {
                (Op::Remove, None) => {
                    for i in hits.into_iter().rev() {
                        list.remove(i);
                    }
                }
                (Op::Remove, Some(sub)) => {
                    for i in hits {
                        if let Some(element) = list[i].as_object_mut() {
                            let sub_key = key_of(element, sub);
                            element.remove(&sub_key);
                        }
                    }
                }
                (_, sub) => {
                    let value = value.cloned().unwrap_or(Value::Null);
                    if hits.is_empty() {
                        // Nothing matches: the filter's equalities describe a new element.
                        let mut element = Map::new();
                        seed(&mut element, filter);
                        match sub {
                            Some(sub) => {
                                element.insert(sub.clone(), value.clone());
                            }
                            None => {
                                if let Value::Object(fields) = &value {
                                    element.extend(fields.clone());
                                }
                            }
                        }
                        list.push(Value::Object(element));
                    }
                    for i in hits {
                        match (sub, &value) {
                            (Some(sub), value) => {
                                if let Some(element) = list[i].as_object_mut() {
                                    let sub_key = key_of(element, sub);
                                    element.insert(sub_key, value.clone());
                                }
                            }
                            (None, Value::Object(fields)) => {
                                if let Some(element) = list[i].as_object_mut() {
                                    element.extend(fields.clone());
                                }
                            }
                            (None, value) => list[i] = value.clone(),
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The fields a filter's `attr eq value` conditions (joined by and) name.
fn seed(element: &mut Map<String, Value>, filter: &Expr) {
    match filter {
        Expr::And(l, r) => {
            seed(element, l);
            seed(element, r);
        }
        Expr::Compare(path, CompareOp::Eq, literal) if path.sub.is_none() => {
            let value = match literal {
                Literal::Text(t) => Value::String(t.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                _ => return,
            };
            element.insert(path.attr.clone(), value);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(resource: Value, ops: Value) -> Value {
        let mut resource = resource;
        let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
        for operation in operations(&body).unwrap() {
            apply(&mut resource, &operation).unwrap();
        }
        resource
    }

    #[test]
    fn ops_read_in_any_letter_case_with_and_without_paths() {
        let user = json!({ "active": true, "name": { "givenName": "A" } });
        let patched = patch(
            user,
            json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "REPLACE", "value": { "name.familyName": "B" } },
                { "op": "add", "path": "name.givenName", "value": "C" },
            ]),
        );
        assert_eq!(patched["active"], "False");
        assert_eq!(
            patched["name"],
            json!({ "givenName": "C", "familyName": "B" })
        );
    }

    #[test]
    fn value_filters_select_change_and_create_elements() {
        let user = json!({ "emails": [{ "value": "a@x.co", "type": "work", "primary": true }] });
        let patched = patch(
            user,
            json!([
                { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.co" },
                { "op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555" },
            ]),
        );
        assert_eq!(patched["emails"][0]["value"], "b@x.co");
        assert_eq!(
            patched["phoneNumbers"],
            json!([{ "type": "work", "value": "+1 555" }])
        );
        let removed = patch(
            patched,
            json!([{ "op": "remove", "path": "phoneNumbers[type eq \"work\"]" }]),
        );
        assert_eq!(removed["phoneNumbers"], json!([]));
    }

    #[test]
    fn extension_attributes_are_reached_by_their_urn() {
        let urn = super::super::schemas::ENTERPRISE_USER;
        let patched = patch(
            json!({}),
            json!([
                { "op": "add", "path": format!("{urn}:organization"), "value": "Acme" },
            ]),
        );
        assert_eq!(patched[urn]["organization"], "Acme");
        let patched = patch(
            patched,
            json!([{ "op": "replace", "value": { urn: { "organization": "Beta" } } }]),
        );
        assert_eq!(patched[urn]["organization"], "Beta");
    }

    #[test]
    fn malformed_requests_are_refused() {
        for body in [
            json!({ "Operations": [] }),
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "move", "path": "a" }] }),
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove" }] }),
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "a" }] }),
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "a[", "value": 1 }] }),
        ] {
            assert!(operations(&body).is_err(), "{body}");
        }
    }
}
