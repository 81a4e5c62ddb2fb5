//! The native face's extractors: each rejects with an [`ApiError`].

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::body::read_json;
use crate::http::credentials::{authenticate, bearer_token};
use crate::service::Precondition;

use super::error::ApiError;

/// A JSON request body; any failure is a problem naming the bad field.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        Ok(Json(read_json(request).await?))
    }
}

/// The authenticated caller (`Authorization: Bearer <secret>`).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers);
        Ok(Auth(authenticate(&state.directory, parts, token).await?))
    }
}

/// Where an unauthenticated request came from (for the audit log).
pub struct Client(pub crate::domain::ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(crate::http::credentials::client_info(parts)))
    }
}

/// Path parameters; a malformed id names nothing, so it is answered 404.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| ApiError::NoSuchPath)
    }
}

/// Query parameters, read as text and validated by the handler's domain parsing. A
/// parameter given twice is refused (400 naming it); unknown ones are ignored.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| crate::http::face::unreadable_parameters(&e).into())
    }
}

/// The If-Match header as a precondition on the resource's version. Only strong
/// tags of the form this server issues (`"<version>"`) can match.
pub struct IfMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(header::IF_MATCH).iter().peekable();
        if values.peek().is_none() {
            return Ok(IfMatch(Precondition::None));
        }
        let mut versions = Vec::new();
        for value in values {
            let Ok(value) = value.to_str() else { continue };
            for tag in value.split(',').map(str::trim) {
                if tag == "*" {
                    return Ok(IfMatch(Precondition::Exists));
                }
                if let Some(version) = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<i64>().ok())
                {
                    versions.push(version);
                }
            }
        }
        Ok(IfMatch(Precondition::Versions(versions)))
    }
}

/// The ETag of a resource at `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
