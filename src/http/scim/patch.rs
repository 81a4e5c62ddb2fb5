//! PATCH (RFC 7644 §3.5.2): the operations of a PatchOp request, and the engine that
//! applies them to a resource's SCIM representation. The face then reads the
//! patched representation back like a PUT body, so that every attribute PATCH can
//! reach is validated by the same rules as a replace.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, Expr, FilterError, Literal, PatchPath};
use super::schemas::PATCH_OP;
use crate::domain::CompareOp;

/// The most operations one PATCH request holds (the same bound as a bulk request's
/// `maxOperations`); more are refused whole, 400 `invalidValue`, before any runs.
pub const MAX_OPERATIONS: usize = 1000;

/// An attribute a PATCH path may name, as the resource's schema declares it.
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'a> {
    pub name: &'a str,
    /// The sub-attributes a path (`name.givenName`) or a value filter may name.
    pub subs: &'static [&'static str],
    /// Multi-valued: the only attributes a value filter (`emails[…]`) selects in.
    pub multi: bool,
    /// Read-only: a path naming it is refused (`mutability`); the same attribute
    /// in a path-less operation's value is ignored, as PUT ignores it.
    pub read_only: bool,
}

/// The attributes of a resource type that PATCH paths are checked against: the core
/// schema's (under the resource's URN or none), and each extension's under its URN
/// (a tenant's declared attributes among them, named as declared).
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    pub urn: &'static str,
    pub core: &'static [Attribute<'static>],
    pub extensions: &'a [(&'static str, &'a [Attribute<'a>])],
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad("invalidPath", detail)
}

fn path_error(error: FilterError) -> ScimError {
    invalid_path(error.0)
}

impl<'a> Schema<'a> {
    /// The attribute a path names (`None` for an extension's URN alone, its whole
    /// object), or 400 `invalidPath` when the schema has none: RFC 7644 §3.5.2 paths
    /// name attributes of the resource.
    fn attribute(&self, path: &AttrPath) -> Result<Option<&'a Attribute<'a>>, ScimError> {
        let extension = |urn: &str| self.extensions.iter().find(|(name, _)| *name == urn);
        let attributes: &'a [Attribute<'a>] = match path.schema.as_deref() {
            None if self
                .extensions
                .iter()
                .any(|(urn, _)| path.attr.eq_ignore_ascii_case(urn)) =>
            {
                return Ok(None);
            }
            None => self.core,
            Some(urn) if urn == self.urn => self.core,
            Some(urn) => match extension(urn) {
                Some((_, attributes)) => attributes,
                None => {
                    return Err(invalid_path(format!(
                        "{urn} is not a schema of this resource"
                    )));
                }
            },
        };
        let Some(attribute) = attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(&path.attr))
        else {
            return Err(invalid_path(format!(
                "\"{}\" is not an attribute of this resource's schema",
                path.attr
            )));
        };
        if let Some(sub) = &path.sub {
            attribute.sub(sub)?;
        }
        Ok(Some(attribute))
    }

    /// Checks that a PATCH path names what the schema has: the attribute, its
    /// sub-attribute, and in a value filter only sub-attributes of a multi-valued
    /// attribute. Answers whether the attribute is read-only.
    pub fn check(&self, path: &PatchPath) -> Result<bool, ScimError> {
        let Some(attribute) = self.attribute(&path.attr)? else {
            return Ok(false);
        };
        if let Some(filter) = &path.filter {
            if !attribute.multi {
                return Err(invalid_path(format!(
                    "\"{}\" is not multi-valued: a value filter selects among the values \
                     of a multi-valued attribute",
                    attribute.name
                )));
            }
            attribute.filter_names(filter)?;
        }
        if let Some(sub) = &path.sub {
            attribute.sub(sub)?;
        }
        Ok(attribute.read_only)
    }
}

impl<'a> Attribute<'a> {
    /// A single-valued attribute without sub-attributes.
    pub const fn single(name: &'a str) -> Self {
        Attribute {
            name,
            subs: &[],
            multi: false,
            read_only: false,
        }
    }

    /// A single-valued complex attribute (`name`).
    pub const fn complex(name: &'a str, subs: &'static [&'static str]) -> Self {
        Attribute {
            name,
            subs,
            multi: false,
            read_only: false,
        }
    }

    /// A multi-valued attribute whose values have `subs` (`emails`).
    pub const fn multi(name: &'a str, subs: &'static [&'static str]) -> Self {
        Attribute {
            name,
            subs,
            multi: true,
            read_only: false,
        }
    }

    /// The same attribute, read-only.
    pub const fn read_only(self) -> Self {
        Attribute {
            read_only: true,
            ..self
        }
    }

    fn sub(&self, sub: &str) -> Result<(), ScimError> {
        if self.subs.iter().any(|s| s.eq_ignore_ascii_case(sub)) {
            Ok(())
        } else {
            Err(invalid_path(format!(
                "\"{}\" has no sub-attribute \"{sub}\"",
                self.name
            )))
        }
    }

    /// Checks that every attribute a value filter names is one of the sub-attributes.
    fn filter_names(&self, filter: &Expr) -> Result<(), ScimError> {
        let mut pending = vec![filter];
        while let Some(expr) = pending.pop() {
            match expr {
                Expr::And(l, r) | Expr::Or(l, r) => {
                    pending.push(l);
                    pending.push(r);
                }
                Expr::Not(inner) => pending.push(inner),
                Expr::ValuePath(..) => {
                    return Err(invalid_path("value filters do not nest"));
                }
                Expr::Present(path) | Expr::Compare(path, ..) => {
                    if path.schema.is_some() || path.sub.is_some() {
                        return Err(invalid_path(format!(
                            "a value filter of \"{}\" names its sub-attributes only",
                            self.name
                        )));
                    }
                    self.sub(&path.attr)?;
                }
            }
        }
        Ok(())
    }
}

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
    if list.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            "invalidValue",
            format!("Operations: more than {MAX_OPERATIONS} operations in one request (the limit)"),
        ));
    }
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
                Value::String(path) => Some(PatchPath::parse(path).map_err(path_error)?),
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
                // Entra ID writes booleans as strings: `primary eq "True"`.
                (Value::Bool(a), Literal::Text(v))
                    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") =>
                {
                    let v = v.eq_ignore_ascii_case("true");
                    match op {
                        CompareOp::Eq => *a == v,
                        CompareOp::Ne => *a != v,
                        _ => false,
                    }
                }
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

/// Applies one operation to `resource` (its SCIM representation), after checking
/// its paths against `schema`.
pub fn apply(
    resource: &mut Value,
    operation: &Operation,
    schema: &Schema,
) -> Result<(), ScimError> {
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
                    let path = PatchPath::parse(&format!("{name}:{attr}")).map_err(path_error)?;
                    if !schema.check(&path)? {
                        apply_at(resource, operation.op, &path, Some(value))?;
                    }
                }
                continue;
            }
            let path = PatchPath::parse(name).map_err(path_error)?;
            // A read-only attribute sent back with the others (id, meta) is ignored.
            if !schema.check(&path)? {
                apply_at(resource, operation.op, &path, Some(value))?;
            }
        }
        return Ok(());
    };
    if schema.check(path)? {
        return Err(ScimError::bad(
            "mutability",
            format!("\"{}\" is read-only", path.attr.attr),
        ));
    }
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
            // RFC 7644 §3.5.2.3: a replace whose value filter matches no value fails
            // with noTarget; §3.12 gives a remove's filter that matches nothing the same
            // error. An add creates the value the filter describes (below).
            if hits.is_empty() && op != Op::Add {
                return Err(ScimError::bad(
                    "noTarget",
                    format!(
                        "the value filter of \"{}\" matches no value",
                        path.attr.attr
                    ),
                ));
            }
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

    use super::super::users::USER_SCHEMA;

    fn try_patch(resource: Value, ops: Value) -> Result<Value, ScimError> {
        let mut resource = resource;
        let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
        for operation in operations(&body)? {
            apply(&mut resource, &operation, &USER_SCHEMA)?;
        }
        Ok(resource)
    }

    fn patch(resource: Value, ops: Value) -> Value {
        try_patch(resource, ops).unwrap()
    }

    fn scim_type(result: Result<Value, ScimError>) -> &'static str {
        match result {
            Err(ScimError::BadRequest { scim_type, .. }) => scim_type,
            other => panic!("not a 400: {other:?}"),
        }
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
                { "op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555" },
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

    #[test]
    fn paths_that_name_nothing_in_the_schema_are_invalid_paths() {
        let user = || json!({ "emails": [{ "value": "a@x.co", "type": "work" }], "name": {} });
        for path in [
            "favouriteColour",
            "name.nickName",
            "name[givenName eq \"A\"]",
            "emails.colour",
            "emails[colour eq \"x\"]",
            "emails[type eq \"work\"].colour",
            "emails[value[type eq \"x\"]]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:boss",
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
            "a[",
        ] {
            let ops = json!([{ "op": "add", "path": path, "value": "x" }]);
            assert_eq!(scim_type(try_patch(user(), ops)), "invalidPath", "{path}");
        }
        let ops = json!([{ "op": "replace", "value": { "favouriteColour": "x" } }]);
        assert_eq!(scim_type(try_patch(user(), ops)), "invalidPath");
        let ops = json!([{ "op": "replace", "path": "groups", "value": [] }]);
        assert_eq!(scim_type(try_patch(user(), ops)), "mutability");
        // Read-only attributes sent back beside the others are ignored.
        let ops = json!([{ "op": "replace", "value": { "id": "1", "meta": {}, "active": false } }]);
        assert_eq!(patch(user(), ops)["active"], false);
    }

    #[test]
    fn a_replace_or_remove_whose_value_filter_matches_nothing_is_no_target() {
        let user = || json!({ "emails": [{ "value": "a@x.co", "type": "work" }] });
        for (op, path) in [
            ("replace", "emails[type eq \"home\"].value"),
            ("replace", "phoneNumbers[type eq \"work\"]"),
            ("remove", "emails[value eq \"b@x.co\"]"),
            ("remove", "addresses[type eq \"work\"].country"),
        ] {
            let ops = json!([{ "op": op, "path": path, "value": "x" }]);
            assert_eq!(scim_type(try_patch(user(), ops)), "noTarget", "{op} {path}");
        }
    }

    #[test]
    fn a_patch_holds_a_bounded_number_of_operations() {
        let op = json!({ "op": "replace", "path": "active", "value": true });
        let at_limit =
            json!({ "schemas": [PATCH_OP], "Operations": vec![op.clone(); MAX_OPERATIONS] });
        assert_eq!(operations(&at_limit).unwrap().len(), MAX_OPERATIONS);
        let over = json!({ "schemas": [PATCH_OP], "Operations": vec![op; MAX_OPERATIONS + 1] });
        let Err(ScimError::BadRequest { detail, .. }) = operations(&over) else {
            panic!("more than the limit was read");
        };
        assert!(detail.contains(&MAX_OPERATIONS.to_string()), "{detail}");
    }
}
