//! The vendor-compatible faces: each renders the directory's users and groups in its
//! vendor's shape and parses its vendor's requests into service calls. None keeps
//! data or rules of its own.

pub mod anodot;
pub mod dynatrace;
pub mod sixeye;
pub mod tyk;

use std::io;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;

use axum::http::StatusCode;

use crate::auth::Caller;
use crate::domain::TenantId;
use crate::http::body::BodyError;
use crate::http::face::Refusal;
use crate::service::{ServiceError, ServiceResult};

use super::AppState;

/// Every vendor face's routes, at the vendors' own paths.
/// Every vendor face; a request that takes longer than `limit` is answered with its
/// vendor's error.
pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .merge(anodot::router(limit))
        .merge(dynatrace::router(limit))
        .merge(sixeye::router(limit))
        .merge(tyk::router(limit))
}

/// The tenant a vendor face acts in: the credential's own. The operator belongs to
/// no tenant, so it cannot use a vendor face.
pub fn tenant_of(caller: &Caller) -> ServiceResult<TenantId> {
    caller.principal.tenant().ok_or(ServiceError::Forbidden(
        "vendor APIs act within one tenant: use a tenant API key",
    ))
}

/// The status and a plain message for a service error, which each vendor face puts
/// in its own envelope (overriding the messages its product words differently).
/// Internal errors are logged with their cause here and answered opaquely.
pub fn service_failure(error: ServiceError) -> (StatusCode, String) {
    match error {
        ServiceError::NotFound(resource) => {
            (StatusCode::NOT_FOUND, format!("{resource} not found"))
        }
        ServiceError::Conflict { message, .. } => (StatusCode::CONFLICT, message),
        cycle @ ServiceError::Cycle(_) => (StatusCode::CONFLICT, cycle.to_string()),
        ServiceError::Invalid(violations) => (
            StatusCode::BAD_REQUEST,
            violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ServiceError::Forbidden(reason) => (StatusCode::FORBIDDEN, reason.to_owned()),
        ServiceError::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "a valid credential is required".to_owned(),
        ),
        timed_out @ ServiceError::TimedOut { .. } => {
            (StatusCode::REQUEST_TIMEOUT, timed_out.to_string())
        }
        second @ (ServiceError::TwoFactorRequired | ServiceError::TwoFactorRejected) => {
            (StatusCode::UNAUTHORIZED, second.to_string())
        }
        ServiceError::Gone(reason) => (StatusCode::GONE, reason),
        ServiceError::PreconditionFailed => (
            StatusCode::PRECONDITION_FAILED,
            ServiceError::PreconditionFailed.to_string(),
        ),
        locked @ ServiceError::Locked { .. } => (StatusCode::LOCKED, locked.to_string()),
        throttled @ ServiceError::TooManyAttempts { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, throttled.to_string())
        }
        unavailable @ ServiceError::Unavailable { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, unavailable.to_string())
        }
        ServiceError::MailNotSent => (
            StatusCode::BAD_GATEWAY,
            ServiceError::MailNotSent.to_string(),
        ),
        ServiceError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not complete the request".to_owned(),
            )
        }
    }
}

/// The status and a plain message for a request body that could not be read.
pub fn body_failure(error: BodyError) -> (StatusCode, String) {
    match error {
        BodyError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large".to_owned(),
        ),
        BodyError::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON (Content-Type: application/json)".to_owned(),
        ),
        BodyError::Malformed(detail) => (StatusCode::BAD_REQUEST, detail),
        BodyError::Field { field, reason } if field.is_empty() => {
            (StatusCode::BAD_REQUEST, format!("the body: {reason}"))
        }
        BodyError::Field { field, reason } => {
            (StatusCode::BAD_REQUEST, format!("{field}: {reason}"))
        }
    }
}

/// The status and a plain message for a refusal of the HTTP layer (a panic is
/// logged where it is caught).
pub fn refusal_failure(refusal: Refusal) -> (StatusCode, String) {
    (refusal.status(), refusal.message())
}

/// Adds the bearer challenge a 401 answer carries.
pub fn with_challenge(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"roster\""),
        );
    }
    response
}

/// A JSON response (`application/json`) written as it is read: `open`, the rendered items separated by commas,
/// then `close`. Memory holds one chunk at a time. A failure after the first byte
/// cannot change the status any more, so it ends the connection early and the
/// client sees a truncated body rather than a well-formed partial list.
pub fn streamed_json_list<S, T, R, F>(
    chunks: S,
    open: &'static str,
    close: &'static str,
    mut render: F,
) -> Response
where
    S: Stream<Item = ServiceResult<Vec<T>>> + Send + 'static,
    R: Serialize,
    F: FnMut(T) -> R + Send + 'static,
{
    let mut first = true;
    let items = chunks.map(move |chunk| -> Result<Bytes, io::Error> {
        let chunk = chunk.map_err(|error| {
            tracing::error!(%error, "a streamed list failed part way");
            io::Error::other("the list could not be read to the end")
        })?;
        let mut buffer = Vec::with_capacity(chunk.len() * 320);
        for item in chunk {
            if !first {
                buffer.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut buffer, &render(item)).map_err(io::Error::other)?;
        }
        Ok(Bytes::from(buffer))
    });
    let body = stream::once(async move { Ok(Bytes::from_static(open.as_bytes())) })
        .chain(items)
        .chain(stream::once(async move {
            Ok(Bytes::from_static(close.as_bytes()))
        }));
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
