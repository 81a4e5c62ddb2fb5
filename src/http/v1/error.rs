//! The native face's errors: RFC 9457 `application/problem+json`, naming each bad
//! field. Every failure of a /v1 request is answered through [`ApiError`].

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldViolation;
use crate::http::body::BodyError;
use crate::http::face::Refusal;
use crate::service::ServiceError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// One entry per bad field or parameter.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// What is wrong with one field of the body (`pointer`) or one query parameter
/// (`parameter`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field's name as sent, dotted for nested fields (`name.first`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A JSON Pointer to the field in the request body (`#/email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    pub detail: String,
}

impl ProblemField {
    fn body(field: &str, detail: String) -> Self {
        let pointer = if field.is_empty() {
            "#".to_owned()
        } else {
            format!(
                "#/{}",
                field
                    .replace('~', "~0")
                    .replace('/', "~1")
                    .replace('.', "/")
            )
        };
        Self {
            field: (!field.is_empty()).then(|| field.to_owned()),
            pointer: Some(pointer),
            parameter: None,
            detail,
        }
    }
}

/// Every way a /v1 request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("bad request body: {0:?}")]
    Body(BodyError),
    /// Bad query parameters, one entry per parameter.
    #[error("bad query parameters")]
    Query(Vec<FieldViolation>),
    /// A path that names no resource, or names one with a malformed id.
    #[error("no resource at this path")]
    NoSuchPath,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Refused by the HTTP layer before a handler ran.
    #[error("refused: {0:?}")]
    Refused(Refusal),
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoSuchPath => ApiError::NoSuchPath,
            Refusal::MethodNotAllowed => ApiError::MethodNotAllowed,
            Refusal::BadQuery { parameter, reason } => ApiError::Query(vec![FieldViolation {
                field: parameter.unwrap_or_else(|| "query".to_owned()),
                reason,
            }]),
            other => ApiError::Refused(other),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        ApiError::Body(error)
    }
}

const INVALID: &str = "urn:roster:problem:invalid-input";

/// What a caller is told to wait before trying a mail again.
const MAIL_RETRY_AFTER_SECONDS: u64 = 60;

impl ApiError {
    fn problem(self) -> (Problem, Vec<(HeaderName, HeaderValue)>) {
        let (kind, title, status, detail, errors) = match self {
            ApiError::Service(error) => return service_problem(error),
            ApiError::Body(BodyError::TooLarge) => (
                "urn:roster:problem:payload-too-large",
                "Payload Too Large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than this server accepts".to_owned(),
                vec![],
            ),
            ApiError::Body(BodyError::UnsupportedMediaType) => (
                "urn:roster:problem:unsupported-media-type",
                "Unsupported Media Type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON (Content-Type: application/json)".to_owned(),
                vec![],
            ),
            ApiError::Body(BodyError::Malformed(detail)) => (
                "urn:roster:problem:malformed-json",
                "Malformed JSON",
                StatusCode::BAD_REQUEST,
                detail,
                vec![],
            ),
            ApiError::Body(BodyError::Field { field, reason }) => (
                INVALID,
                "Invalid Input",
                StatusCode::BAD_REQUEST,
                summary(std::slice::from_ref(&field)),
                vec![ProblemField::body(&field, reason)],
            ),
            ApiError::Query(violations) => (
                INVALID,
                "Invalid Input",
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid query parameter: {}",
                    violations
                        .iter()
                        .map(|v| v.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                violations
                    .into_iter()
                    .map(|v| ProblemField {
                        field: None,
                        pointer: None,
                        parameter: Some(v.field),
                        detail: v.reason,
                    })
                    .collect(),
            ),
            ApiError::NoSuchPath => (
                "about:blank",
                "Not Found",
                StatusCode::NOT_FOUND,
                "no resource exists at this path".to_owned(),
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                "about:blank",
                "Method Not Allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "this resource does not support the request method".to_owned(),
                vec![],
            ),
            ApiError::Refused(refusal) => {
                let status = refusal.status();
                (
                    "about:blank",
                    status.canonical_reason().unwrap_or("Error"),
                    status,
                    refusal.message(),
                    vec![],
                )
            }
        };
        (
            Problem {
                kind,
                title,
                status: status.as_u16(),
                detail,
                errors,
            },
            Vec::new(),
        )
    }
}

fn summary(fields: &[String]) -> String {
    let named: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| !f.is_empty())
        .collect();
    if named.is_empty() {
        "the request body has the wrong shape".to_owned()
    } else {
        format!("invalid field: {}", named.join(", "))
    }
}

/// The problem for a service error, and the headers it needs (a WWW-Authenticate
/// challenge, a Retry-After).
fn service_problem(error: ServiceError) -> (Problem, Vec<(HeaderName, HeaderValue)>) {
    let problem = |kind, title, status: StatusCode, detail: String, errors| Problem {
        kind,
        title,
        status: status.as_u16(),
        detail,
        errors,
    };
    match error {
        ServiceError::NotFound(resource) => (
            problem(
                "about:blank",
                "Not Found",
                StatusCode::NOT_FOUND,
                format!("{resource} not found"),
                vec![],
            ),
            vec![],
        ),
        ServiceError::Conflict { field, message } => (
            problem(
                "urn:roster:problem:conflict",
                "Conflict",
                StatusCode::CONFLICT,
                message.clone(),
                vec![ProblemField::body(field, message)],
            ),
            vec![],
        ),
        cycle @ ServiceError::Cycle(_) => (
            problem(
                "urn:roster:problem:cycle",
                "Conflict",
                StatusCode::CONFLICT,
                cycle.to_string(),
                vec![],
            ),
            vec![],
        ),
        ServiceError::Invalid(violations) => {
            let fields: Vec<String> = violations.iter().map(|v| v.field.clone()).collect();
            (
                problem(
                    INVALID,
                    "Invalid Input",
                    StatusCode::BAD_REQUEST,
                    summary(&fields),
                    violations
                        .into_iter()
                        .map(|v| ProblemField::body(&v.field, v.reason))
                        .collect(),
                ),
                vec![],
            )
        }
        ServiceError::Gone(reason) => (
            problem(
                "urn:roster:problem:gone",
                "Gone",
                StatusCode::GONE,
                reason,
                vec![],
            ),
            vec![],
        ),
        ServiceError::Forbidden(reason) => (
            problem(
                "about:blank",
                "Forbidden",
                StatusCode::FORBIDDEN,
                reason.to_owned(),
                vec![],
            ),
            vec![],
        ),
        ServiceError::Unauthorized => (
            problem(
                "about:blank",
                "Unauthorized",
                StatusCode::UNAUTHORIZED,
                "a valid bearer credential is required".to_owned(),
                vec![],
            ),
            vec![(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            )],
        ),
        second @ (ServiceError::TwoFactorRequired | ServiceError::TwoFactorRejected) => (
            problem(
                if matches!(second, ServiceError::TwoFactorRequired) {
                    "urn:roster:problem:two-factor-required"
                } else {
                    "urn:roster:problem:two-factor-rejected"
                },
                "Unauthorized",
                StatusCode::UNAUTHORIZED,
                second.to_string(),
                vec![],
            ),
            vec![],
        ),
        ServiceError::Locked {
            retry_after_seconds,
        } => (
            problem(
                "urn:roster:problem:account-locked",
                "Locked",
                StatusCode::LOCKED,
                ServiceError::Locked {
                    retry_after_seconds,
                }
                .to_string(),
                vec![],
            ),
            vec![(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds))],
        ),
        ServiceError::TooManyAttempts {
            retry_after_seconds,
        } => (
            problem(
                "urn:roster:problem:too-many-attempts",
                "Too Many Requests",
                StatusCode::TOO_MANY_REQUESTS,
                ServiceError::TooManyAttempts {
                    retry_after_seconds,
                }
                .to_string(),
                vec![],
            ),
            vec![(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds))],
        ),
        timed_out @ ServiceError::TimedOut { .. } => (
            problem(
                "about:blank",
                "Request Timeout",
                StatusCode::REQUEST_TIMEOUT,
                timed_out.to_string(),
                vec![],
            ),
            vec![],
        ),
        ServiceError::PreconditionFailed => (
            problem(
                "about:blank",
                "Precondition Failed",
                StatusCode::PRECONDITION_FAILED,
                "the resource has changed since the version named in If-Match".to_owned(),
                vec![],
            ),
            vec![],
        ),
        unavailable @ ServiceError::Unavailable {
            retry_after_seconds,
        } => (
            problem(
                "about:blank",
                "Service Unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                unavailable.to_string(),
                vec![],
            ),
            vec![(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds))],
        ),
        ServiceError::MailNotSent => (
            problem(
                "urn:roster:problem:mail-not-sent",
                "Bad Gateway",
                StatusCode::BAD_GATEWAY,
                ServiceError::MailNotSent.to_string(),
                vec![],
            ),
            vec![(
                header::RETRY_AFTER,
                HeaderValue::from(MAIL_RETRY_AFTER_SECONDS),
            )],
        ),
        ServiceError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "internal error");
            (
                problem(
                    "about:blank",
                    "Internal Server Error",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server could not complete the request".to_owned(),
                    vec![],
                ),
                vec![],
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (problem, extra_headers) = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in extra_headers {
            headers.insert(name, value);
        }
        response
    }
}
