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

/// Deserializes `bytes`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        describe(&path, &inner)
    })?;
    deserializer
        .end()
        .map_err(|_| BodyError::Malformed("unexpected content after the JSON value".into()))?;
    Ok(value)
}

fn describe(path: &str, error: &serde_json::Error) -> BodyError {
    use serde_json::error::Category;
    let message = strip_position(&error.to_string());
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            BodyError::Malformed(format!("the body is not valid JSON: {message}"))
        }
        Category::Data => {
            // A missing field is named only in the message, at its parent's path.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (missing, path) {
                (Some(name), "." | "") => name.to_owned(),
                (Some(name), parent) => format!("{parent}.{name}"),
                (None, "." | "") => String::new(),
                (None, path) => path.to_owned(),
            };
            let reason = if message.starts_with("missing field") {
                "is required".to_owned()
            } else if message.starts_with("unknown field") {
                "is not a known field".to_owned()
            } else {
                message
            };
            BodyError::Field { field, reason }
        }
    }
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
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
                reason: "invalid type: integer `5`, expected a string".into()
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
}
