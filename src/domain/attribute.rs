//! Attributes a tenant declares for its users beyond the standard profile (a cost
//! code, a badge number, a start date), and the values users hold for them. Every
//! face reads and writes them through these types, so a value is checked against its
//! declaration the same way wherever it comes from. SCIM shows them as the schema
//! extension [`CUSTOM_USER_SCHEMA`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::text::fold_case;
use super::user::text_enum;
use super::{Invalid, TenantId, Timestamp};

/// The URN of the SCIM schema extension that holds a tenant's declared attributes.
pub const CUSTOM_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

/// The most attributes a tenant may declare.
pub const MAX_ATTRIBUTES: usize = 100;

/// The most values one multi-valued attribute may hold for a user.
pub const MAX_VALUES: usize = 100;

/// The longest string or reference value, in characters.
pub const MAX_VALUE_CHARS: usize = 2048;

/// The largest integer magnitude: integers beyond it do not survive a round trip
/// through JSON clients that read numbers as doubles.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The type of an attribute's values, as RFC 7643 §2.3 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    /// A URI.
    Reference,
}

text_enum!(AttributeType {
    String = "string",
    Boolean = "boolean",
    Integer = "integer",
    Decimal = "decimal",
    DateTime = "dateTime",
    Reference = "reference",
});

impl AttributeType {
    /// A stored value's canonical text read back as a value of this type.
    pub fn read_stored(&self, text: &str) -> Result<AttributeValue, Invalid> {
        match self {
            AttributeType::String => Ok(AttributeValue::String(text.to_owned())),
            AttributeType::Reference => Ok(AttributeValue::Reference(text.to_owned())),
            AttributeType::Boolean => match text {
                "true" => Ok(AttributeValue::Boolean(true)),
                "false" => Ok(AttributeValue::Boolean(false)),
                _ => Err(Invalid::new("is not a stored boolean")),
            },
            AttributeType::Integer => text
                .parse()
                .map(AttributeValue::Integer)
                .map_err(|_| Invalid::new("is not a stored integer")),
            AttributeType::Decimal => text
                .parse()
                .map(AttributeValue::Decimal)
                .map_err(|_| Invalid::new("is not a stored decimal")),
            AttributeType::DateTime => Timestamp::parse_rfc3339(text).map(AttributeValue::DateTime),
        }
    }
}

/// Who may write an attribute, as RFC 7643 §2.2 names it: anyone with write access
/// (`readWrite`), only when the user is created or while it has no value
/// (`immutable`), or written but never read back (`writeOnly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadWrite,
    Immutable,
    WriteOnly,
}

text_enum!(Mutability {
    ReadWrite = "readWrite",
    Immutable = "immutable",
    WriteOnly = "writeOnly",
});

/// When an attribute is read back, as RFC 7643 §2.2 names it: always, by default
/// (unless excluded), only when asked for by name, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Default,
    Request,
    Never,
}

text_enum!(Returned {
    Always = "always",
    Default = "default",
    Request = "request",
    Never = "never",
});

/// An attribute's name: RFC 7643's ATTRNAME (a letter, then letters, digits, `-` and
/// `_`), 1 to 64 characters, unique in its tenant in any letter case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeName(String);

impl AttributeName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s: String = s.into();
        let mut chars = s.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Invalid::new(
                "must start with a letter and hold only letters, digits, '-' and '_'",
            ));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(s))
    }

    /// The form that uniqueness and lookups are decided on.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A declared attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDefinition {
    pub tenant_id: TenantId,
    /// As declared; looked up in any letter case.
    pub name: String,
    pub description: String,
    pub kind: AttributeType,
    pub multi_valued: bool,
    /// Every user holds a value: a new user must be given one, and it cannot be removed.
    pub required: bool,
    /// No two users of the tenant hold the same value (compared as `case_exact` says).
    pub unique: bool,
    /// Whether string and reference values compare in their letter case.
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An attribute to declare.
#[derive(Debug, Clone)]
pub struct NewAttribute {
    pub name: AttributeName,
    pub description: super::Description,
    pub kind: AttributeType,
    pub multi_valued: bool,
    pub required: bool,
    pub unique: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
}

/// A change to a declared attribute: what stored values were not checked against
/// (its description, whether it is required, who may write it, when it is read).
/// Its type, multiplicity, uniqueness and case rule are fixed once declared.
#[derive(Debug, Clone, Default)]
pub struct AttributeChange {
    pub description: Option<super::Description>,
    pub required: Option<bool>,
    pub mutability: Option<Mutability>,
    pub returned: Option<Returned>,
}

impl AttributeChange {
    pub fn apply_to(self, attribute: &mut AttributeDefinition) {
        if let Some(description) = self.description {
            attribute.description = description.into_string();
        }
        if let Some(required) = self.required {
            attribute.required = required;
        }
        if let Some(mutability) = self.mutability {
            attribute.mutability = mutability;
        }
        if let Some(returned) = self.returned {
            attribute.returned = returned;
        }
    }
}

/// One value of a declared attribute, of the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Boolean(bool),
    Integer(i64),
    Decimal(f64),
    DateTime(Timestamp),
    Reference(String),
}

// Decimals are always finite (`parse_value` refuses the others), so equality is
// reflexive.
impl Eq for AttributeValue {}

impl AttributeValue {
    /// The value as stored and written back: RFC 3339 for times, `true`/`false`, the
    /// shortest decimal that reads back the same.
    pub fn canonical(&self) -> String {
        match self {
            AttributeValue::String(s) | AttributeValue::Reference(s) => s.clone(),
            AttributeValue::Boolean(b) => b.to_string(),
            AttributeValue::Integer(i) => i.to_string(),
            AttributeValue::Decimal(d) => d.to_string(),
            AttributeValue::DateTime(t) => t.rfc3339(),
        }
    }

    /// The number ordered comparisons use: the value of a number, a time's epoch
    /// milliseconds; none for the other types.
    pub fn number(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)] // within ±2^53, exact
            AttributeValue::Integer(i) => Some(*i as f64),
            AttributeValue::Decimal(d) => Some(*d),
            #[allow(clippy::cast_precision_loss)] // epoch milliseconds, far below 2^53
            AttributeValue::DateTime(t) => Some(t.millis() as f64),
            _ => None,
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            AttributeValue::String(s) | AttributeValue::Reference(s) => Value::from(s.as_str()),
            AttributeValue::Boolean(b) => Value::Bool(*b),
            AttributeValue::Integer(i) => Value::from(*i),
            AttributeValue::Decimal(d) => Value::from(*d),
            AttributeValue::DateTime(t) => Value::from(t.rfc3339()),
        }
    }
}

/// A JSON value's type, as a refusal names it ("a string", "an array", "null").
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn bounded_text(s: &str) -> Result<String, Invalid> {
    if s.is_empty() {
        return Err(Invalid::new("must not be empty"));
    }
    if s.chars().count() > MAX_VALUE_CHARS {
        return Err(Invalid::new(format!(
            "must be at most {MAX_VALUE_CHARS} characters long"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(s.to_owned())
}

impl AttributeDefinition {
    /// The key this attribute is stored and looked up under.
    pub fn key(&self) -> String {
        fold_case(&self.name)
    }

    /// Whether its values are ever read back: not when written only or never
    /// returned.
    pub fn is_read_back(&self) -> bool {
        self.mutability != Mutability::WriteOnly && self.returned != Returned::Never
    }

    /// One value of this attribute's type read from JSON. A boolean may also come as
    /// the text `"true"` or `"false"` in any letter case, as Microsoft Entra ID sends
    /// booleans of extension attributes.
    pub fn parse_value(&self, value: &Value) -> Result<AttributeValue, Invalid> {
        let expected = || {
            Invalid::new(format!(
                "must be {}, not {}",
                match self.kind {
                    AttributeType::String => "a string",
                    AttributeType::Boolean => "a boolean",
                    AttributeType::Integer => "an integer",
                    AttributeType::Decimal => "a number",
                    AttributeType::DateTime => "an RFC 3339 date and time",
                    AttributeType::Reference => "a URI",
                },
                json_kind(value)
            ))
        };
        match (self.kind, value) {
            (AttributeType::String, Value::String(s)) => {
                bounded_text(s).map(AttributeValue::String)
            }
            (AttributeType::Boolean, Value::Bool(b)) => Ok(AttributeValue::Boolean(*b)),
            (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
                Ok(AttributeValue::Boolean(true))
            }
            (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
                Ok(AttributeValue::Boolean(false))
            }
            (AttributeType::Integer, Value::Number(n)) => match n.as_i64() {
                Some(i) if i.abs() <= MAX_SAFE_INTEGER => Ok(AttributeValue::Integer(i)),
                Some(_) => Err(Invalid::new(format!(
                    "must be from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER}"
                ))),
                None => Err(Invalid::new("must be an integer, not a fraction")),
            },
            (AttributeType::Decimal, Value::Number(n)) => n
                .as_f64()
                .filter(|d| d.is_finite())
                .map(AttributeValue::Decimal)
                .ok_or_else(|| Invalid::new("must be a finite number")),
            (AttributeType::DateTime, Value::String(s)) => {
                Timestamp::parse_rfc3339(s).map(AttributeValue::DateTime)
            }
            (AttributeType::Reference, Value::String(s)) => {
                let s = bounded_text(s)?;
                if s.chars().any(char::is_whitespace) {
                    return Err(Invalid::new("must be a URI, without whitespace"));
                }
                Ok(AttributeValue::Reference(s))
            }
            _ => Err(expected()),
        }
    }

    /// The values a write gives this attribute: an array for a multi-valued one
    /// (empty or `null` clears it), one value otherwise (`null` clears it).
    pub fn parse_values(&self, value: &Value) -> Result<Vec<AttributeValue>, Invalid> {
        match value {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) if self.multi_valued => {
                if items.len() > MAX_VALUES {
                    return Err(Invalid::new(format!("holds at most {MAX_VALUES} values")));
                }
                let mut values: Vec<AttributeValue> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let parsed = self
                        .parse_value(item)
                        .map_err(|e| Invalid::new(format!("[{i}] {}", e.reason)))?;
                    // A repeated value is one value: keep the first.
                    let key = self.value_key(&parsed);
                    if !values.iter().any(|v| self.value_key(v) == key) {
                        values.push(parsed);
                    }
                }
                Ok(values)
            }
            Value::Array(_) => Err(Invalid::new("holds one value, not an array")),
            _ if self.multi_valued => Err(Invalid::new(format!(
                "is multi-valued: must be an array, not {}",
                json_kind(value)
            ))),
            single => Ok(vec![self.parse_value(single)?]),
        }
    }

    /// What equality and uniqueness decide on: the canonical text, lower-cased
    /// unless the attribute is case-exact (which matters only for text values).
    pub fn value_key(&self, value: &AttributeValue) -> String {
        match value {
            AttributeValue::String(s) | AttributeValue::Reference(s) if !self.case_exact => {
                fold_case(s)
            }
            other => other.canonical(),
        }
    }

    /// A stored value's canonical text read back into the attribute's type.
    pub fn read_stored(&self, text: &str) -> Result<AttributeValue, Invalid> {
        self.kind.read_stored(text)
    }

    /// The values as JSON: an array for a multi-valued attribute, else the one value
    /// (`None` when there is none).
    pub fn values_to_json(&self, values: &[AttributeValue]) -> Option<Value> {
        if self.multi_valued {
            (!values.is_empty()).then(|| values.iter().map(AttributeValue::to_json).collect())
        } else {
            values.first().map(AttributeValue::to_json)
        }
    }
}

/// A user's values of declared attributes, by the attribute's key (its folded
/// name). An attribute the user holds no value of is absent.
pub type AttributeValues = BTreeMap<String, Vec<AttributeValue>>;

/// What a write does to a user's declared attributes, each named as the caller sent
/// it (any letter case) with its values as JSON; `null` (or an empty array) clears.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeWrite {
    /// Only the attributes named change.
    Merge(Vec<(String, Value)>),
    /// The user's attributes become exactly these: those not named are cleared.
    Replace(Vec<(String, Value)>),
}

impl Default for AttributeWrite {
    fn default() -> Self {
        AttributeWrite::Merge(Vec::new())
    }
}

impl AttributeWrite {
    /// Whether the write changes nothing whatever the user holds.
    pub fn is_empty(&self) -> bool {
        matches!(self, AttributeWrite::Merge(named) if named.is_empty())
    }
}

/// The field a refusal of a declared attribute names.
pub fn attribute_field(name: &str) -> String {
    format!("attributes.{name}")
}

/// Applies `write` to `current` under the tenant's declarations, checking every
/// rule a declaration makes: the names are declared, the values of their types, a
/// required attribute keeps a value (a new user — `creating` — must be given one),
/// and an immutable one does not change once set. Answers the user's values after
/// the write and the keys of the attributes that changed; refusals name their field.
pub fn apply_attribute_write(
    declared: &[AttributeDefinition],
    current: &AttributeValues,
    write: AttributeWrite,
    creating: bool,
) -> Result<(AttributeValues, Vec<String>), Vec<super::FieldViolation>> {
    let mut violations = Vec::new();
    let mut refuse = |name: &str, reason: String| {
        violations.push(super::FieldViolation {
            field: attribute_field(name),
            reason,
        });
    };
    let (named, replace) = match write {
        AttributeWrite::Merge(named) => (named, false),
        AttributeWrite::Replace(named) => (named, true),
    };
    let mut next = if replace {
        AttributeValues::new()
    } else {
        current.clone()
    };
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in &named {
        let key = fold_case(name);
        let Some(attribute) = declared.iter().find(|a| a.key() == key) else {
            refuse(name, "is not an attribute declared in the tenant".into());
            continue;
        };
        if !seen.insert(key.clone()) {
            refuse(name, "is named more than once".into());
            continue;
        }
        match attribute.parse_values(value) {
            Ok(values) if values.is_empty() => {
                next.remove(&key);
            }
            Ok(values) => {
                next.insert(key, values);
            }
            Err(invalid) => refuse(&attribute.name, invalid.reason),
        }
    }
    for attribute in declared {
        let key = attribute.key();
        let before = current.get(&key).filter(|_| !creating);
        let after = next.get(&key);
        let touched = creating || replace || seen.contains(&key);
        if attribute.required && after.is_none() && touched {
            refuse(&attribute.name, "is required".into());
        }
        if attribute.mutability == Mutability::Immutable && before.is_some() && after != before {
            refuse(
                &attribute.name,
                "is immutable: it cannot change once set".into(),
            );
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let changed = declared
        .iter()
        .map(AttributeDefinition::key)
        .filter(|key| current.get(key) != next.get(key))
        .collect();
    Ok((next, changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared(kind: AttributeType, multi_valued: bool) -> AttributeDefinition {
        AttributeDefinition {
            tenant_id: TenantId::generate(),
            name: "costCode".into(),
            description: String::new(),
            kind,
            multi_valued,
            required: false,
            unique: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            version: 1,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn names_are_rfc_7643_attribute_names() {
        for good in ["costCode", "badge_no", "x", "start-date2"] {
            assert!(AttributeName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "2fa", "cost code", "cost.code", "ç", &"a".repeat(65)] {
            assert!(AttributeName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(AttributeName::parse("CostCode").unwrap().key(), "costcode");
    }

    #[test]
    fn values_are_read_as_their_declared_type() {
        let integer = declared(AttributeType::Integer, false);
        assert_eq!(
            integer.parse_values(&json!(42)),
            Ok(vec![AttributeValue::Integer(42)])
        );
        assert!(integer.parse_values(&json!("42")).is_err());
        assert!(integer.parse_values(&json!(1.5)).is_err());
        assert!(integer.parse_values(&json!(1_i64 << 60)).is_err());
        assert!(integer.parse_values(&json!([1])).is_err());
        assert_eq!(integer.parse_values(&Value::Null), Ok(vec![]));

        let boolean = declared(AttributeType::Boolean, false);
        assert_eq!(
            boolean.parse_values(&json!("True")),
            Ok(vec![AttributeValue::Boolean(true)])
        );
        assert!(boolean.parse_values(&json!("yes")).is_err());

        let time = declared(AttributeType::DateTime, false);
        let read = time.parse_values(&json!("2026-01-02T03:04:05Z")).unwrap();
        assert_eq!(read[0].canonical(), "2026-01-02T03:04:05.000Z");
        assert!(time.parse_values(&json!("yesterday")).is_err());

        let decimal = declared(AttributeType::Decimal, false);
        assert_eq!(
            decimal.parse_values(&json!(2.5)).unwrap()[0].number(),
            Some(2.5)
        );

        let reference = declared(AttributeType::Reference, false);
        assert!(
            reference
                .parse_values(&json!("https://example.com/a"))
                .is_ok()
        );
        assert!(reference.parse_values(&json!("not a uri")).is_err());
    }

    #[test]
    fn multi_valued_attributes_take_arrays_without_repeats() {
        let tags = declared(AttributeType::String, true);
        let values = tags.parse_values(&json!(["a", "B", "b", "c"])).unwrap();
        assert_eq!(values.len(), 3);
        assert!(tags.parse_values(&json!("a")).is_err());
        let refused = tags.parse_values(&json!(["a", 1])).unwrap_err();
        assert_eq!(refused.reason, "[1] must be a string, not a number");
        let many: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
        assert!(tags.parse_values(&json!(many)).is_err());
    }

    #[test]
    fn stored_values_read_back_as_written() {
        for (kind, value) in [
            (AttributeType::String, json!("Ab")),
            (AttributeType::Boolean, json!(false)),
            (AttributeType::Integer, json!(-7)),
            (AttributeType::Decimal, json!(0.1)),
            (AttributeType::DateTime, json!("2026-12-02T10:00:00.250Z")),
            (AttributeType::Reference, json!("urn:x:y")),
        ] {
            let attribute = declared(kind, false);
            let parsed = attribute.parse_value(&value).unwrap();
            let stored = attribute.read_stored(&parsed.canonical()).unwrap();
            assert_eq!(stored.to_json(), value, "{kind}");
        }
    }

    #[test]
    fn a_write_is_checked_against_every_declaration() {
        let mut required = declared(AttributeType::Integer, false);
        required.name = "badge".into();
        required.required = true;
        let mut fixed = declared(AttributeType::String, false);
        fixed.name = "hireCode".into();
        fixed.mutability = Mutability::Immutable;
        let declared = [required, fixed];
        let fields = |refused: Vec<crate::domain::FieldViolation>| {
            refused.into_iter().map(|v| v.field).collect::<Vec<_>>()
        };

        let none = AttributeValues::new();
        let refused =
            apply_attribute_write(&declared, &none, AttributeWrite::default(), true).unwrap_err();
        assert_eq!(fields(refused), ["attributes.badge"]);

        let write = AttributeWrite::Merge(vec![
            ("BADGE".into(), json!(7)),
            ("hireCode".into(), json!("H1")),
        ]);
        let (held, changed) = apply_attribute_write(&declared, &none, write, true).unwrap();
        assert_eq!(changed, ["badge", "hirecode"]);

        // A merge that names neither leaves both; a replace that omits the required
        // one is refused, as is a change of the immutable one.
        let (same, changed) =
            apply_attribute_write(&declared, &held, AttributeWrite::default(), false).unwrap();
        assert_eq!((same, changed.len()), (held.clone(), 0));
        let write = AttributeWrite::Replace(vec![("hireCode".into(), json!("H2"))]);
        let refused = apply_attribute_write(&declared, &held, write, false).unwrap_err();
        assert_eq!(fields(refused), ["attributes.badge", "attributes.hireCode"]);

        let write = AttributeWrite::Merge(vec![("nickname".into(), json!("x"))]);
        let refused = apply_attribute_write(&declared, &held, write, false).unwrap_err();
        assert_eq!(fields(refused), ["attributes.nickname"]);
        let write = AttributeWrite::Merge(vec![("badge".into(), json!("7"))]);
        let refused = apply_attribute_write(&declared, &held, write, false).unwrap_err();
        assert_eq!(refused[0].reason, "must be an integer, not a string");
    }

    #[test]
    fn case_exactness_decides_the_key() {
        let mut attribute = declared(AttributeType::String, false);
        let value = AttributeValue::String("AbC".into());
        assert_eq!(attribute.value_key(&value), "abc");
        attribute.case_exact = true;
        assert_eq!(attribute.value_key(&value), "AbC");
    }
}
