//! Reading a JSON request body, shared by every face: each face turns a
//! [`BodyError`] into its own error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the configured size limit (413).
    TooLarge,
    /// Not declared as JSON (415).
    UnsupportedMediaType,
    /// Not JSON at all, or cut short.
    Malformed(String),
    /// JSON of the wrong shape: `field` is the path of the offending value.
    Field { field: String, reason: String },
}

/// Whether the request declares a JSON body: `application/json` or any
/// `application/…+json` (merge-patch, scim, vnd.api …).
fn declares_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads and deserializes a JSON body, naming the offending field on failure.
pub async fn read_json<T: DeserializeOwned>(request: Request) -> Result<T, BodyError> {
    if !declares_json(&request) {
        return Err(BodyError::UnsupportedMediaType);
    }
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge
            } else {
                BodyError::Malformed("the request body could not be read".into())
            }
        })?;
    parse_json(&bytes)
}

/// Parses a body into one request type and drops it: each face lists its request
/// types as these, so that the property test can feed every one.
#[cfg(test)]
pub(crate) type BodyCheck = (&'static str, fn(&[u8]) -> Result<(), BodyError>);

#[cfg(test)]
pub(crate) fn check<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), BodyError> {
    parse_json::<T>(bytes).map(drop)
}

/// How deeply a request body's objects and arrays may nest. serde_json stops at 128;
/// no request of any face needs more than a handful, so a deeper body is refused
/// before it is parsed at all.
pub const MAX_JSON_DEPTH: usize = 64;

/// Deserializes `bytes`, naming the offending field on failure. A value of the wrong
/// JSON type is refused at any depth (an array is never read as an object field by
/// field), and messages name the JSON type expected, never a Rust type.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if nests_deeper_than(bytes, MAX_JSON_DEPTH) {
        return Err(BodyError::Malformed(format!(
            "the body nests objects and arrays deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(strict::Strict(&mut deserializer)).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            describe(&path, &inner)
        })?;
    deserializer
        .end()
        .map_err(|_| BodyError::Malformed("unexpected content after the JSON value".into()))?;
    Ok(value)
}

/// Whether the objects and arrays of `bytes` nest deeper than `max`, counted in one
/// pass without parsing (so a body 10,000 levels deep costs no stack).
fn nests_deeper_than(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn describe(path: &str, error: &serde_json::Error) -> BodyError {
    use serde_json::error::Category;
    let message = strip_position(&error.to_string());
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            BodyError::Malformed(format!("the body is not valid JSON: {message}"))
        }
        Category::Data => {
            // A missing or repeated field is named only in the message, at its
            // parent's path.
            let named = ["missing field `", "duplicate field `"]
                .iter()
                .find_map(|prefix| message.strip_prefix(prefix))
                .and_then(|rest| rest.split('`').next());
            let field = match (named, path) {
                (Some(name), "." | "") => name.to_owned(),
                (Some(name), parent) => format!("{parent}.{name}"),
                (None, "." | "") => String::new(),
                (None, path) => path.to_owned(),
            };
            BodyError::Field {
                field,
                reason: reason(&message),
            }
        }
    }
}

/// serde's wording of a data error, restated in JSON's words: the expected JSON type
/// or values, and the kind of value found, never a Rust type.
fn reason(message: &str) -> String {
    let restated = if message.starts_with("missing field") {
        "is required".to_owned()
    } else if message.starts_with("unknown field") {
        "is not a known field".to_owned()
    } else if message.starts_with("duplicate field") {
        "is given more than once".to_owned()
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        match rest.split_once(", expected ") {
            // serde quotes each value in backticks: `a` or `b`; one of `a`, `b`, `c`.
            Some((_, listed)) => format!(
                "must be one of: {}",
                listed
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "is not an accepted value".to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        match rest.split_once(", expected ") {
            Some((found, expected)) => format!("expected {expected}, found {}", kind(found)),
            None => "has the wrong type".to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        match rest.split_once(", expected ") {
            Some((found, expected)) => format!("expected {expected}, found {}", kind(found)),
            None => "is not an accepted value".to_owned(),
        }
    } else if message.starts_with("invalid length ") {
        "has the wrong number of elements".to_owned()
    } else if message.starts_with("data did not match any variant") {
        "does not have any of the accepted shapes".to_owned()
    } else {
        message.to_owned()
    };
    if names_rust_type(&restated) {
        "has the wrong type".to_owned()
    } else {
        restated
    }
}

/// serde's `Unexpected` as JSON names it.
fn kind(found: &str) -> String {
    let quoted = || found.split('`').nth(1).unwrap_or("").to_owned();
    if found.starts_with("integer `") || found.starts_with("floating point `") {
        format!("the number {}", quoted())
    } else if found.starts_with("boolean `") {
        quoted()
    } else if found.starts_with("string ") || found.starts_with("char ") {
        "a string".to_owned()
    } else if found == "sequence" {
        "an array".to_owned()
    } else if found == "map" {
        "an object".to_owned()
    } else if found == "unit value" || found == "null" {
        "null".to_owned()
    } else {
        "a value of another type".to_owned()
    }
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Whether a message names a Rust type or serde's data model rather than JSON's: the
/// test every error text a face sends must pass.
pub fn names_rust_type(message: &str) -> bool {
    const WORDS: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "struct", "enum", "variant", "tuple", "newtype", "sequence", "map", "option",
        "unit", "String", "Vec", "Option", "BTreeMap", "HashMap", "Box", "char",
    ];
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| WORDS.contains(&word))
        || message.contains("::")
}

/// A deserializer that holds every value to its JSON type: an object's fields are
/// never read from an array by position, and every refusal names the JSON type the
/// field takes. It wraps each nested deserializer the same way, so the rule holds
/// at any depth; serde_path_to_error wraps it in turn to name the field.
mod strict {
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected,
        VariantAccess, Visitor,
    };

    /// What a value must be, in JSON's words.
    #[derive(Clone, Copy)]
    enum Want {
        Text(&'static str),
        /// An integer: out-of-range values are restated with this range.
        Integer(&'static str),
        OneOf(&'static [&'static str]),
    }

    impl fmt::Display for Want {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Want::Text(text) | Want::Integer(text) => f.write_str(text),
                Want::OneOf(values) => write!(f, "one of: {}", values.join(", ")),
            }
        }
    }

    impl de::Expected for Want {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(self, f)
        }
    }

    pub struct Strict<D>(pub D);

    struct Wrap<V> {
        inner: V,
        want: Want,
        /// An object is expected: an array is refused rather than read by position.
        object: bool,
    }

    fn wrap<V>(inner: V, want: Want) -> Wrap<V> {
        Wrap {
            inner,
            want,
            object: false,
        }
    }

    macro_rules! hinted {
        ($($method:ident => $want:expr),* $(,)?) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(wrap(visitor, $want))
            }
        )*};
    }

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
        type Error = D::Error;

        hinted! {
            deserialize_any => Want::Text("a JSON value"),
            deserialize_bool => Want::Text("a boolean"),
            deserialize_i8 => Want::Integer("an integer from -128 to 127"),
            deserialize_i16 => Want::Integer("an integer from -32768 to 32767"),
            deserialize_i32 => Want::Integer("an integer from -2147483648 to 2147483647"),
            deserialize_i64 => Want::Integer("an integer from -9223372036854775808 to 9223372036854775807"),
            deserialize_i128 => Want::Integer("an integer"),
            deserialize_u8 => Want::Integer("an integer from 0 to 255"),
            deserialize_u16 => Want::Integer("an integer from 0 to 65535"),
            deserialize_u32 => Want::Integer("an integer from 0 to 4294967295"),
            deserialize_u64 => Want::Integer("an integer from 0 to 18446744073709551615"),
            deserialize_u128 => Want::Integer("a non-negative integer"),
            deserialize_f32 => Want::Text("a number"),
            deserialize_f64 => Want::Text("a number"),
            deserialize_char => Want::Text("a string of one character"),
            deserialize_str => Want::Text("a string"),
            deserialize_string => Want::Text("a string"),
            deserialize_bytes => Want::Text("a string"),
            deserialize_byte_buf => Want::Text("a string"),
            deserialize_option => Want::Text("a JSON value or null"),
            deserialize_unit => Want::Text("null"),
            deserialize_seq => Want::Text("an array"),
            deserialize_map => Want::Text("a JSON object"),
            deserialize_identifier => Want::Text("a string"),
            deserialize_ignored_any => Want::Text("a JSON value"),
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0
                .deserialize_unit_struct(name, wrap(visitor, Want::Text("null")))
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0
                .deserialize_newtype_struct(name, wrap(visitor, Want::Text("a JSON value")))
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0
                .deserialize_tuple(len, wrap(visitor, Want::Text("an array")))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0
                .deserialize_tuple_struct(name, len, wrap(visitor, Want::Text("an array")))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let visitor = Wrap {
                inner: visitor,
                want: Want::Text("a JSON object"),
                object: true,
            };
            self.0.deserialize_struct(name, fields, visitor)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            // serde_json calls a value that is neither a string nor an object a
            // syntax error ("expected value"); read as any value, its type is named.
            self.0
                .deserialize_any(EnumProbe(wrap(visitor, Want::OneOf(variants))))
        }

        fn is_human_readable(&self) -> bool {
            self.0.is_human_readable()
        }
    }

    impl<V> Wrap<V> {
        /// An out-of-range integer, restated with the range the field takes.
        fn restate<T, E: de::Error>(
            want: Want,
            result: Result<T, E>,
            found: Unexpected,
        ) -> Result<T, E> {
            match (want, result) {
                (Want::Integer(_), Err(_)) => Err(E::invalid_value(found, &want)),
                (_, result) => result,
            }
        }
    }

    macro_rules! forwarded {
        ($($method:ident($ty:ty) => $unexpected:expr),* $(,)?) => {$(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                let want = self.want;
                Wrap::<V>::restate(want, self.inner.$method(v), $unexpected(v))
            }
        )*};
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.want, f)
        }

        forwarded! {
            visit_bool(bool) => Unexpected::Bool,
            visit_i8(i8) => |v| Unexpected::Signed(i64::from(v)),
            visit_i16(i16) => |v| Unexpected::Signed(i64::from(v)),
            visit_i32(i32) => |v| Unexpected::Signed(i64::from(v)),
            visit_i64(i64) => Unexpected::Signed,
            visit_u8(u8) => |v| Unexpected::Unsigned(u64::from(v)),
            visit_u16(u16) => |v| Unexpected::Unsigned(u64::from(v)),
            visit_u32(u32) => |v| Unexpected::Unsigned(u64::from(v)),
            visit_u64(u64) => Unexpected::Unsigned,
            visit_f32(f32) => |v| Unexpected::Float(f64::from(v)),
            visit_f64(f64) => Unexpected::Float,
            visit_char(char) => Unexpected::Char,
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
            let want = self.want;
            Wrap::<V>::restate(want, self.inner.visit_i128(v), Unexpected::Other("integer"))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            let want = self.want;
            Wrap::<V>::restate(want, self.inner.visit_u128(v), Unexpected::Other("integer"))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.inner.visit_str(v)
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            self.inner.visit_borrowed_str(v)
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            self.inner.visit_string(v)
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            self.inner.visit_bytes(v)
        }

        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            self.inner.visit_borrowed_bytes(v)
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            self.inner.visit_byte_buf(v)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_none()
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_some(Strict(d))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_unit()
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_newtype_struct(Strict(d))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            if self.object {
                return Err(de::Error::invalid_type(Unexpected::Seq, &self));
            }
            self.inner.visit_seq(Seq(seq))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_map(Map(map))
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_enum(Enum(data))
        }
    }

    /// An enum read from any JSON value: a string names a unit variant, an object
    /// `{"variant": value}` any other; every other value is refused naming the
    /// variants.
    struct EnumProbe<V>(Wrap<V>);

    impl<'de, V: Visitor<'de>> Visitor<'de> for EnumProbe<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.0.want, f)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
            self.0.visit_enum(de::value::StrDeserializer::<E>::new(v))
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
            self.0
                .visit_enum(de::value::BorrowedStrDeserializer::<E>::new(v))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
            self.0
                .visit_enum(de::value::StringDeserializer::<E>::new(v))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.0
                .visit_enum(de::value::MapAccessDeserializer::new(map))
        }
    }

    struct Seed<S>(S);

    impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
        type Value = S::Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
            self.0.deserialize(Strict(d))
        }
    }

    struct Seq<A>(A);

    impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
        type Error = A::Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, A::Error> {
            self.0.next_element_seed(Seed(seed))
        }

        fn size_hint(&self) -> Option<usize> {
            self.0.size_hint()
        }
    }

    struct Map<A>(A);

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            self.0.next_key_seed(Seed(seed))
        }

        fn next_value_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<T::Value, A::Error> {
            self.0.next_value_seed(Seed(seed))
        }

        fn size_hint(&self) -> Option<usize> {
            self.0.size_hint()
        }
    }

    struct Enum<A>(A);

    impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
        type Error = A::Error;
        type Variant = Variant<A::Variant>;

        fn variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<(T::Value, Self::Variant), A::Error> {
            self.0
                .variant_seed(Seed(seed))
                .map(|(value, variant)| (value, Variant(variant)))
        }
    }

    struct Variant<A>(A);

    impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
        type Error = A::Error;

        fn unit_variant(self) -> Result<(), A::Error> {
            self.0.unit_variant()
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, A::Error> {
            self.0.newtype_variant_seed(Seed(seed))
        }

        fn tuple_variant<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, A::Error> {
            self.0
                .tuple_variant(len, wrap(visitor, Want::Text("an array")))
        }

        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, A::Error> {
            let visitor = Wrap {
                inner: visitor,
                want: Want::Text("a JSON object"),
                object: true,
            };
            self.0.struct_variant(fields, visitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn errors_name_the_offending_field() {
        assert_eq!(
            parse_json::<Body>(br#"{"name": 5}"#).unwrap_err(),
            BodyError::Field {
                field: "name".into(),
                reason: "expected a string, found the number 5".into()
            }
        );
        assert_eq!(
            parse_json::<Body>(br#"{}"#).unwrap_err(),
            BodyError::Field {
                field: "name".into(),
                reason: "is required".into()
            }
        );
        assert_eq!(
            parse_json::<Body>(br#"{"name": "a", "nmae": 1}"#).unwrap_err(),
            BodyError::Field {
                field: "nmae".into(),
                reason: "is not a known field".into()
            }
        );
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "a", "inner": {"count": -1}}"#).unwrap_err(),
            BodyError::Field { field, .. } if field == "inner.count"
        ));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Kind {
        Admin,
        Reader,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        kind: Option<Kind>,
        small: Option<u8>,
        tags: Option<Vec<String>>,
        inner: Option<Vec<Inner>>,
    }

    fn reason_for<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (String, String) {
        match parse_json::<T>(body.as_bytes()).unwrap_err() {
            BodyError::Field { field, reason } => (field, reason),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn an_array_is_never_read_as_an_object() {
        assert_eq!(
            reason_for::<Body>(r#"["a", null]"#),
            (
                String::new(),
                "expected a JSON object, found an array".into()
            )
        );
        assert_eq!(
            reason_for::<Body>(r#"{"name": "a", "inner": [7]}"#),
            (
                "inner".into(),
                "expected a JSON object, found an array".into()
            )
        );
        assert_eq!(
            reason_for::<Typed>(r#"{"inner": [{"count": 1}, [2]]}"#),
            (
                "inner[1]".into(),
                "expected a JSON object, found an array".into()
            )
        );
    }

    #[test]
    fn errors_name_json_types_never_rust_types() {
        for (body, field, reason) in [
            (
                r#"{"kind": "root"}"#,
                "kind",
                "must be one of: admin, reader",
            ),
            (
                r#"{"kind": 3}"#,
                "kind",
                "expected one of: admin, reader, found the number 3",
            ),
            (
                r#"{"kind": ["admin"]}"#,
                "kind",
                "expected one of: admin, reader, found an array",
            ),
            (
                r#"{"small": 300}"#,
                "small",
                "expected an integer from 0 to 255, found the number 300",
            ),
            (
                r#"{"small": -1}"#,
                "small",
                "expected an integer from 0 to 255, found the number -1",
            ),
            (
                r#"{"small": "1"}"#,
                "small",
                "expected an integer from 0 to 255, found a string",
            ),
            (
                r#"{"tags": {"a": 1}}"#,
                "tags",
                "expected an array, found an object",
            ),
            (
                r#"{"tags": [true]}"#,
                "tags[0]",
                "expected a string, found true",
            ),
            (
                r#"{"inner": [{"count": 1.5}]}"#,
                "inner[0].count",
                "expected an integer from 0 to 4294967295, found the number 1.5",
            ),
        ] {
            assert_eq!(
                reason_for::<Typed>(body),
                (field.into(), reason.into()),
                "{body}"
            );
            assert!(!names_rust_type(reason), "{reason}");
        }
        assert_eq!(
            reason_for::<Body>(r#"{"name": "a", "name": "b"}"#),
            ("name".into(), "is given more than once".into())
        );
    }

    #[test]
    fn enums_read_their_variants_as_before() {
        let typed = parse_json::<Typed>(br#"{"kind": "reader"}"#).unwrap();
        assert!(matches!(typed.kind, Some(Kind::Reader)));
        let typed = parse_json::<Typed>(br#"{"kind": {"admin": null}}"#).unwrap();
        assert!(matches!(typed.kind, Some(Kind::Admin)));
        assert!(parse_json::<Typed>(br#"{"kind": {"admin": null, "reader": null}}"#).is_err());
    }

    #[test]
    fn rust_type_names_are_recognised() {
        for message in [
            "invalid type: sequence, expected struct Body",
            "expected u32",
            "expected a sequence",
            "data did not match any variant of untagged enum X",
            "roster::http::Thing",
        ] {
            assert!(names_rust_type(message), "{message}");
        }
        assert!(!names_rust_type("expected a JSON object, found an array"));
        assert!(!names_rust_type("at most 200 characters"));
    }

    #[test]
    fn bodies_nested_too_deep_are_malformed_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_json::<serde_json::Value>(deep.as_bytes()),
            Err(BodyError::Malformed(m)) if m.contains("64")
        ));
        let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        assert!(matches!(
            parse_json::<Body>(deep_objects.as_bytes()),
            Err(BodyError::Malformed(_))
        ));
        let at_limit = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse_json::<serde_json::Value>(at_limit.as_bytes()).is_ok());
        // Brackets inside strings do not count.
        let quoted = format!(r#"{{"name": "{}"}}"#, "[{".repeat(100));
        assert!(parse_json::<Body>(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn broken_json_is_malformed() {
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "#),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "a"} x"#),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b""),
            Err(BodyError::Malformed(_))
        ));
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::super::*;

        /// Every request body of every face (SCIM reads its bodies as JSON values).
        fn every_request_body() -> Vec<BodyCheck> {
            let mut all: Vec<BodyCheck> = vec![("scim", check::<Value>)];
            all.extend(crate::http::v1::request_bodies());
            all.extend(crate::http::compat::anodot::request_bodies());
            all.extend(crate::http::compat::dynatrace::request_bodies());
            all.extend(crate::http::compat::tyk::request_bodies());
            all
        }

        /// Field names the faces' request types use, so that generated objects reach
        /// their fields, mixed with names none uses.
        const NAMES: &[&str] = &[
            "email",
            "firstName",
            "lastName",
            "name",
            "role",
            "status",
            "password",
            "description",
            "emails",
            "groups",
            "defaultGroup",
            "refreshToken",
            "first_name",
            "last_name",
            "email_address",
            "active",
            "user_permissions",
            "newPassword",
            "currentPassword",
            "code",
            "token",
            "federatedAttributeValues",
            "userName",
            "phone",
            "company",
            "countryCode",
            "defaultGroupId",
            "expiresAt",
            "schemas",
            "Operations",
            "x",
            "",
        ];

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "[a-z@.]{0,12}".prop_map(Value::from),
                Just(Value::from("customer-admin")),
                Just(Value::from("a@acme.com")),
                Just(Value::from("0190b1a2-7c4d-7e00-8000-000000000000")),
            ];
            leaf.prop_recursive(8, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((prop::sample::select(NAMES), inner), 0..6).prop_map(
                        |fields| Value::Object(
                            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                        )
                    ),
                ]
            })
        }

        fn assert_clean(name: &str, body: &[u8]) {
            match (every_request_body()
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1)(body)
            {
                Ok(()) | Err(BodyError::Malformed(_)) => {}
                Err(BodyError::Field { field, reason }) => {
                    assert!(!names_rust_type(&reason), "{name}: {field}: {reason}");
                    assert!(!names_rust_type(&field), "{name}: {field}: {reason}");
                }
                Err(other) => panic!("{name}: {other:?}"),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any JSON value, fed to every request type of every face, is parsed or
            /// refused with a message in JSON's words; nothing panics.
            #[test]
            fn any_body_is_parsed_or_refused_in_json_words(value in json()) {
                let body = serde_json::to_vec(&value).unwrap();
                for (name, _) in every_request_body() {
                    assert_clean(name, &body);
                }
            }

            /// Any bytes at all, too.
            #[test]
            fn any_bytes_are_parsed_or_refused(body in prop::collection::vec(any::<u8>(), 0..256)) {
                for (name, _) in every_request_body() {
                    assert_clean(name, &body);
                }
            }
        }

        #[test]
        fn an_array_for_any_faces_object_is_refused_naming_the_object() {
            for (name, parse) in every_request_body() {
                if name == "scim" || name.starts_with("dynatrace group") {
                    continue;
                }
                let refused = parse(br#"["a@acme.com", "A", "B", "admin"]"#);
                assert!(
                    matches!(&refused, Err(BodyError::Field { field, reason })
                        if field.is_empty() && reason == "expected a JSON object, found an array"),
                    "{name}: {refused:?}"
                );
            }
        }
    }
}
