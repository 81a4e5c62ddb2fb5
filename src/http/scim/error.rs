//! The SCIM error response (RFC 7644 §3.12): every failure under /scim/v2, including
//! authentication, unknown paths and methods, is answered in this one shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::body::BodyError;
use crate::http::compat::{body_failure, service_failure, with_challenge};
use crate::http::face::Refusal;
use crate::service::ServiceError;

use super::filter::FilterError;
use super::schemas::ERROR;
use super::scim_json;

/// Why a SCIM request failed.
#[derive(Debug)]
pub enum ScimError {
    Service(ServiceError),
    Body(BodyError),
    /// 400 with a `scimType` (invalidFilter, invalidPath, invalidValue, …).
    BadRequest {
        scim_type: &'static str,
        detail: String,
    },
    /// 404: no such path under /scim/v2, or no such resource.
    NotFound(String),
    /// 413: a bulk request over its limits (RFC 7644 §3.7.4).
    TooLarge(String),
    /// 409 without a `scimType`: bulk operations whose references are circular.
    Conflict(String),
    /// Refused by the HTTP layer before a handler ran.
    Refused(Refusal),
}

impl ScimError {
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError::BadRequest {
            scim_type,
            detail: detail.into(),
        }
    }
}

impl From<ServiceError> for ScimError {
    fn from(error: ServiceError) -> Self {
        ScimError::Service(error)
    }
}

impl From<BodyError> for ScimError {
    fn from(error: BodyError) -> Self {
        ScimError::Body(error)
    }
}

impl From<FilterError> for ScimError {
    fn from(error: FilterError) -> Self {
        ScimError::bad("invalidFilter", error.0)
    }
}

impl ScimError {
    /// The status and the error resource that answer this failure.
    pub fn into_parts(self) -> (StatusCode, serde_json::Value) {
        let (status, scim_type, detail) = match self {
            ScimError::Service(ServiceError::Conflict { message, .. }) => {
                (StatusCode::CONFLICT, Some("uniqueness"), message)
            }
            // RFC 7644 §3.12: a member that would make a cycle is an invalid value.
            ScimError::Service(cycle @ ServiceError::Cycle(_)) => (
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                cycle.to_string(),
            ),
            ScimError::Service(error @ ServiceError::Invalid(_)) => {
                let (status, detail) = service_failure(error);
                (status, Some("invalidValue"), detail)
            }
            ScimError::Service(error) => {
                let (status, detail) = service_failure(error);
                (status, None, detail)
            }
            ScimError::Body(error) => {
                let scim_type = match &error {
                    BodyError::Malformed(_) => Some("invalidSyntax"),
                    BodyError::Field { .. } => Some("invalidValue"),
                    _ => None,
                };
                let (status, detail) = body_failure(error);
                (status, scim_type, detail)
            }
            ScimError::BadRequest { scim_type, detail } => {
                (StatusCode::BAD_REQUEST, Some(scim_type), detail)
            }
            ScimError::NotFound(detail) => (StatusCode::NOT_FOUND, None, detail),
            ScimError::TooLarge(detail) => (StatusCode::PAYLOAD_TOO_LARGE, None, detail),
            ScimError::Conflict(detail) => (StatusCode::CONFLICT, None, detail),
            ScimError::Refused(Refusal::NoSuchPath) => (
                StatusCode::NOT_FOUND,
                None,
                "no such SCIM endpoint or resource".to_owned(),
            ),
            ScimError::Refused(refusal @ Refusal::BadQuery { .. }) => {
                (refusal.status(), Some("invalidValue"), refusal.message())
            }
            ScimError::Refused(refusal) => (refusal.status(), None, refusal.message()),
        };
        let mut body = json!({
            "schemas": [ERROR],
            "status": status.as_str(),
            "detail": detail,
        });
        if let Some(scim_type) = scim_type {
            body["scimType"] = json!(scim_type);
        }
        (status, body)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let (status, body) = self.into_parts();
        with_challenge(scim_json(status, &body))
    }
}
