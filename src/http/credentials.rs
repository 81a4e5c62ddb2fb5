//! Reading a caller's credential and origin from request headers, for every face.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::auth::Caller;
use crate::domain::ClientInfo;
use crate::service::{Directory, ServiceError};

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Where the request came from: the peer address and the User-Agent (cut to 512
/// characters), for the audit log.
pub fn client_info(parts: &Parts) -> ClientInfo {
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    ClientInfo {
        address,
        user_agent,
    }
}

/// Authenticates `token` and builds the caller.
pub async fn authenticate(
    directory: &Directory,
    parts: &Parts,
    token: Option<&str>,
) -> Result<Caller, ServiceError> {
    let token = token.ok_or(ServiceError::Unauthorized)?;
    let principal = directory.authenticate(token).await?;
    Ok(Caller {
        principal,
        client: client_info(parts),
    })
}
