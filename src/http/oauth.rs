//! OAuth 2.0 for programs: the client credentials grant (RFC 6749 section 4.4) at
//! `POST /oauth2/token` (and at Dynatrace's `POST /sso/oauth2/token`), and token
//! revocation (RFC 7009) at `POST /oauth2/revoke`. A client is a tenant API key: its
//! id is the client id, its secret the client secret, sent in the form or with HTTP
//! Basic authentication.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::domain::ScopeRequest;
use crate::http::AppState;
use crate::http::credentials::client_info;
use crate::service::ServiceError;

pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/sso/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<OAuthError>,
        ))
}

/// An RFC 6749 section 5.2 error.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    /// RFC 6749 section 5.2: the scope is unknown, or more than the client may have.
    fn invalid_scope(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
            description: description.into(),
        }
    }
}

impl From<ServiceError> for OAuthError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Unauthorized => Self {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description: "client authentication failed".into(),
            },
            ServiceError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    error: "server_error",
                    description: "the server could not complete the request".into(),
                }
            }
            unavailable @ ServiceError::Unavailable { .. } => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: "temporarily_unavailable",
                description: unavailable.to_string(),
            },
            timed_out @ ServiceError::TimedOut { .. } => Self {
                status: StatusCode::REQUEST_TIMEOUT,
                error: "temporarily_unavailable",
                description: timed_out.to_string(),
            },
            other => Self::invalid_request(other.to_string()),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        no_store(response.headers_mut());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"roster\""),
            );
        }
        response
    }
}

/// A refusal of the HTTP layer as an RFC 6749 error.
pub fn refuse(refusal: crate::http::face::Refusal) -> Response {
    let status = refusal.status();
    let error = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request"
    };
    OAuthError {
        status,
        error,
        description: refusal.message(),
    }
    .into_response()
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    token: Option<String>,
}

/// Reads the form body (`application/x-www-form-urlencoded`) and the client's
/// credentials, from HTTP Basic or from the form (not both).
async fn read_form(request: Request) -> Result<(TokenForm, String, String), OAuthError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ..OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
        });
    }
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| {
            STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|pair| {
                    pair.split_once(':')
                        .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
                })
                .ok_or_else(|| OAuthError::invalid_request("malformed Basic credentials"))
        })
        .transpose()?;
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                OAuthError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    ..OAuthError::invalid_request("the request body is too large")
                }
            } else {
                OAuthError::invalid_request("the request body could not be read")
            }
        })?;
    // RFC 6749 section 3.2: a parameter must not be sent more than once.
    let form: TokenForm = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        use crate::http::face::{Refusal, unreadable_parameters};
        OAuthError::invalid_request(match unreadable_parameters(&e) {
            Refusal::BadQuery {
                parameter: Some(name),
                reason,
            } => format!("{name} {reason}"),
            other => other.message(),
        })
    })?;
    let (id, secret) = match (basic, form.client_id.clone(), form.client_secret.clone()) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "send the client's credentials in one way only",
            ));
        }
        (Some(pair), _, None) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(OAuthError {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description: "client_id and client_secret are required".into(),
            });
        }
    };
    Ok((form, id, secret))
}

/// `POST /oauth2/token`: `grant_type=client_credentials`, with an optional `scope`
/// (`read`, `write`, or Dynatrace's `account-idm-read`, `account-idm-write`). The
/// reply's `scope` names the scopes granted: those asked for that the key's role
/// allows, or all it allows when none are asked for.
#[utoipa::path(
    post, path = "/oauth2/token", tag = "oauth", operation_id = "issueToken",
    security(("clientBasic" = []), ()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token that acts as the client's key", body = TokenResponse,
            headers(("Cache-Control" = String), ("Pragma" = String))),
        (status = 400, description = "A malformed request or an unsupported grant type", body = OAuthErrorBody),
        (status = 401, description = "Unknown client or wrong secret", body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 408, description = "The request took longer than the server's time limit", body = OAuthErrorBody),
        (status = 413, description = "The body is over the size limit", body = OAuthErrorBody),
        (status = 414, description = "The request target is over the URI limit", body = OAuthErrorBody),
        (status = 415, description = "The body is not an application/x-www-form-urlencoded form", body = OAuthErrorBody),
        (status = 431, description = "The header fields are over their limit", body = OAuthErrorBody),
        (status = 503, description = "The database cannot be reached", body = OAuthErrorBody,
            headers(("Retry-After" = i64))),
    )
)]
async fn token(State(state): State<AppState>, request: Request) -> Result<Response, OAuthError> {
    let (parts, body) = request.into_parts();
    let client = client_info(&parts);
    let (form, id, secret) = read_form(Request::from_parts(parts, body)).await?;
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "only client_credentials is supported".into(),
            });
        }
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    }
    let requested = ScopeRequest::parse(form.scope.as_deref())
        .map_err(|e| OAuthError::invalid_scope(e.reason))?;
    let issued = state
        .directory
        .exchange_client_credentials(&id, &secret, &requested, client)
        .await
        .map_err(|e| match e {
            ServiceError::Forbidden(reason) => OAuthError::invalid_scope(reason),
            other => other.into(),
        })?;
    let mut response = axum::Json(json!({
        "access_token": issued.token.expose_secret(),
        "token_type": "Bearer",
        "expires_in": issued.expires_in_seconds,
        "scope": issued.scopes.to_scope_string(),
    }))
    .into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// `POST /oauth2/revoke`: `token=…`, with the client's credentials. Answers 200
/// whether or not the token was the client's (RFC 7009 section 2.2).
#[utoipa::path(
    post, path = "/oauth2/revoke", tag = "oauth", operation_id = "revokeToken",
    security(("clientBasic" = []), ()),
    request_body(content = RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token is no longer valid (or never was the client's)"),
        (status = 400, description = "A malformed request", body = OAuthErrorBody),
        (status = 401, description = "Unknown client or wrong secret", body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 408, description = "The request took longer than the server's time limit", body = OAuthErrorBody),
        (status = 413, description = "The body is over the size limit", body = OAuthErrorBody),
        (status = 414, description = "The request target is over the URI limit", body = OAuthErrorBody),
        (status = 415, description = "The body is not an application/x-www-form-urlencoded form", body = OAuthErrorBody),
        (status = 431, description = "The header fields are over their limit", body = OAuthErrorBody),
        (status = 503, description = "The database cannot be reached", body = OAuthErrorBody,
            headers(("Retry-After" = i64))),
    )
)]
async fn revoke(State(state): State<AppState>, request: Request) -> Result<Response, OAuthError> {
    let (parts, body) = request.into_parts();
    let client = client_info(&parts);
    let (form, id, secret) = read_form(Request::from_parts(parts, body)).await?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    state
        .directory
        .revoke_access_token(&id, &secret, &token, client)
        .await?;
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// The token request's form, as the OpenAPI document describes it. The client's
/// credentials come in the form or with HTTP Basic, not both.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    #[schema(inline, value_type = GrantType)]
    grant_type: String,
    /// The API key's id; required unless HTTP Basic carries it.
    client_id: Option<String>,
    /// The API key's secret; required unless HTTP Basic carries it.
    #[schema(format = Password)]
    client_secret: Option<String>,
    /// Space-separated scopes: `read`, `write`, `account-idm-read`, `account-idm-write`.
    #[schema(
        nullable = false,
        pattern = r"^ *((read|write|account-idm-read|account-idm-write)( +(read|write|account-idm-read|account-idm-write))*)? *$"
    )]
    scope: Option<String>,
}

/// The only grant this server issues tokens for.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GrantType {
    ClientCredentials,
}

/// The revocation request's form (RFC 7009).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RevocationRequest {
    /// The access token to revoke.
    token: String,
    /// The API key's id; required unless HTTP Basic carries it.
    client_id: Option<String>,
    /// The API key's secret; required unless HTTP Basic carries it.
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenResponse {
    access_token: String,
    #[schema(inline, value_type = TokenType)]
    token_type: String,
    /// Seconds until the token expires.
    expires_in: i64,
    scope: String,
}

/// Tokens are bearer tokens.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum TokenType {
    Bearer,
}

/// An RFC 6749 section 5.2 error.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct OAuthErrorBody {
    #[schema(inline, value_type = OAuthErrorCode)]
    error: String,
    error_description: String,
}

/// The RFC 6749 error codes this server answers with.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnsupportedGrantType,
    TemporarilyUnavailable,
    ServerError,
}
