//! Dynatrace's error shape: `{"error": {"code", "message", "constraintViolations"?}}`,
//! the envelope Dynatrace's REST APIs answer failures with. Every failure of this face
//! is answered through [`DynatraceError`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldViolation;
use crate::http::body::BodyError;
use crate::service::{Resource, ServiceError};

use crate::http::face::Refusal;

use super::super::{body_failure, refusal_failure, service_failure, with_challenge};

/// Where a refused value was sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    PayloadBody,
    Query,
}

/// A failure of a Dynatrace request.
#[derive(Debug)]
pub enum DynatraceError {
    Service(ServiceError),
    Body(BodyError),
    /// Query parameters that could not be read, each named.
    Query(Vec<FieldViolation>),
    /// Refused by the HTTP layer before a handler ran.
    Refused(Refusal),
}

impl From<ServiceError> for DynatraceError {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

impl From<BodyError> for DynatraceError {
    fn from(error: BodyError) -> Self {
        Self::Body(error)
    }
}

#[derive(Serialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    code: u16,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    constraint_violations: Vec<ConstraintViolation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConstraintViolation {
    path: String,
    message: String,
    parameter_location: Location,
}

fn violations(fields: Vec<FieldViolation>, at: Location) -> Vec<ConstraintViolation> {
    fields
        .into_iter()
        .map(|f| ConstraintViolation {
            path: f.field,
            message: f.reason,
            parameter_location: at,
        })
        .collect()
}

/// The message Dynatrace answers for an object it cannot find.
fn not_found(resource: Resource) -> String {
    match resource {
        Resource::Tenant => "Could not find requested account".into(),
        Resource::User => "Could not find requested user".into(),
        Resource::Group => "Could not find requested group".into(),
        other => format!("Could not find requested {other}"),
    }
}

impl IntoResponse for DynatraceError {
    fn into_response(self) -> Response {
        let (status, message, constraint_violations) = match self {
            DynatraceError::Service(error) => match error {
                ServiceError::NotFound(resource) => {
                    (StatusCode::NOT_FOUND, not_found(resource), vec![])
                }
                ServiceError::Invalid(fields) => (
                    StatusCode::BAD_REQUEST,
                    "Invalid input".into(),
                    violations(fields, Location::PayloadBody),
                ),
                ServiceError::Unauthorized => (
                    StatusCode::UNAUTHORIZED,
                    "A valid API key is required as the bearer token".into(),
                    vec![],
                ),
                other => {
                    let (status, message) = service_failure(other);
                    (status, message, vec![])
                }
            },
            DynatraceError::Body(error) => match error {
                BodyError::Field { field, reason } => (
                    StatusCode::BAD_REQUEST,
                    "Invalid input".into(),
                    violations(
                        vec![FieldViolation { field, reason }],
                        Location::PayloadBody,
                    ),
                ),
                other => {
                    let (status, message) = body_failure(other);
                    (status, message, vec![])
                }
            },
            DynatraceError::Query(fields) => (
                StatusCode::BAD_REQUEST,
                "Invalid query parameters".into(),
                violations(fields, Location::Query),
            ),
            DynatraceError::Refused(Refusal::BadQuery { parameter, reason }) => (
                StatusCode::BAD_REQUEST,
                "Invalid query parameters".into(),
                violations(
                    vec![FieldViolation {
                        field: parameter.unwrap_or_default(),
                        reason,
                    }],
                    Location::Query,
                ),
            ),
            DynatraceError::Refused(refusal) => {
                let (status, message) = refusal_failure(refusal);
                (status, message, vec![])
            }
        };
        let body = Envelope {
            error: ErrorBody {
                code: status.as_u16(),
                message,
                constraint_violations,
            },
        };
        with_challenge((status, axum::Json(body)).into_response())
    }
}
