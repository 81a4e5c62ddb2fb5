use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{TenantId, Timestamp, UserId, Violations};
use crate::http::AppState;
use crate::http::credentials::bearer_token;
use crate::service::{Delivery, ServiceError};

use super::error::{ApiError, Problem};
use super::extract::{Auth, Client, Json, Path};
use super::invalid;
use super::users::UserBody;

const PROBLEM: &str = "application/problem+json";

/// An email and a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    #[schema(format = Password)]
    password: String,
    /// A code from the user's authenticator app, or one of its recovery codes;
    /// needed when the user's two-factor sign-in is on.
    #[schema(format = Password)]
    two_factor_code: Option<String>,
}

/// A successful sign-in: a bearer token that acts as the user, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
    expires_at: Timestamp,
    user: UserBody,
}

/// Sign in with an email and a password.
///
/// An unknown email and a wrong password are answered alike (401). A disabled or
/// pending user who gives the right password is told why (403); an account locked
/// after repeated failures is 423, a client address with too many attempts 429, both
/// with Retry-After. A user with two-factor sign-in on who gives the right password
/// without `twoFactorCode` is answered 401 of type
/// `urn:roster:problem:two-factor-required`; a wrong code is 401 of type
/// `urn:roster:problem:two-factor-rejected` and counts as a failed sign-in.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/login", tag = "auth", operation_id = "signIn", security(()),
    params(("tenantId" = TenantId, Path)),
    request_body = LoginBody,
    responses(
        (status = 200, body = TokenBody),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 401, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
        (status = 429, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Path(tenant): Path<TenantId>,
    Client(client): Client,
    Json(body): Json<LoginBody>,
) -> Result<axum::response::Response, ApiError> {
    let signed_in = match state
        .directory
        .login(
            tenant,
            &body.email,
            &body.password,
            body.two_factor_code.as_deref(),
            client,
        )
        .await
    {
        Ok(signed_in) => signed_in,
        Err(ServiceError::Unauthorized) => return Ok(invalid_email_or_password()),
        Err(other) => return Err(other.into()),
    };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(TokenBody {
            access_token: signed_in.token.expose_secret().to_owned(),
            token_type: "Bearer",
            expires_in: signed_in.expires_in_seconds,
            expires_at: signed_in.expires_at,
            user: super::users::UserBody::of(signed_in.user, &signed_in.declared),
        }),
    )
        .into_response())
}

/// A failed sign-in: the same words for an unknown email, a wrong password and a
/// user without one, and no bearer challenge (the caller sent no bearer credential).
fn invalid_email_or_password() -> axum::response::Response {
    let problem = Problem {
        kind: "urn:roster:problem:invalid-credentials",
        title: "Unauthorized",
        status: StatusCode::UNAUTHORIZED.as_u16(),
        detail: "invalid email or password".to_owned(),
        errors: vec![],
    };
    (
        StatusCode::UNAUTHORIZED,
        [
            (axum::http::header::CONTENT_TYPE, PROBLEM),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        axum::Json(problem),
    )
        .into_response()
}

/// Sign out: the signed-in user's token presented stops working.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/logout", tag = "auth", operation_id = "signOut",
    params(("tenantId" = TenantId, Path)),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers).ok_or(ServiceError::Unauthorized)?;
    state.directory.logout(&caller, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A signed-in user's own password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordChangeBody {
    #[schema(format = Password)]
    current_password: String,
    #[schema(format = Password)]
    new_password: String,
}

/// Change the signed-in user's own password (its token, and the current password).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/password", tag = "auth", operation_id = "changeOwnPassword",
    params(("tenantId" = TenantId, Path)),
    request_body = PasswordChangeBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    Json(body): Json<PasswordChangeBody>,
) -> Result<StatusCode, ApiError> {
    let mut v = Violations::new();
    let Some(new) = v.check(
        "newPassword",
        state.directory.password_policy().parse(body.new_password),
    ) else {
        return Err(invalid(v));
    };
    state
        .directory
        .change_own_password(&caller, &body.current_password, &new)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password an administrator sets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    #[schema(format = Password)]
    password: String,
}

/// Set a user's password (an administrator's reset). A pending user becomes active.
#[utoipa::path(
    put, path = "/v1/tenants/{tenantId}/users/{userId}/password", tag = "users", operation_id = "setUserPassword",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Set"),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn set_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Json(body): Json<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    let mut v = Violations::new();
    let Some(password) = v.check(
        "password",
        state.directory.password_policy().parse(body.password),
    ) else {
        return Err(invalid(v));
    };
    state
        .directory
        .set_password(&caller, tenant, id, &password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift the lock repeated failed sign-ins put on a user's account.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/users/{userId}/unlock", tag = "users", operation_id = "unlockUser",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state.directory.unlock_user(&caller, tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How a link reached, or is to reach, its user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryKind {
    /// Mailed to the user (the mail server took it).
    Mailed,
    /// No mail is configured: the link is in this reply, to hand to the user.
    Link,
}

/// A link made for a user: mailed, or answered here (shown once).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    delivery: DeliveryKind,
    /// The address the link was mailed to (`mailed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// The link to hand to the user (`link`): the console page that takes the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// The token inside the link (`link`), for a program with a page of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// When the link stops working (`link`).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
}

/// A delivery as its reply: 202 when mailed, 201 with the link otherwise; never
/// stored by caches, since a link holds a secret.
fn delivered(delivery: Delivery) -> axum::response::Response {
    let token = delivery.link_token();
    let (status, body) = match delivery {
        Delivery::Mailed { to } => (
            StatusCode::ACCEPTED,
            DeliveryBody {
                delivery: DeliveryKind::Mailed,
                to: Some(to),
                url: None,
                token: None,
                expires_at: None,
            },
        ),
        Delivery::Link { url, expires_at } => (
            StatusCode::CREATED,
            DeliveryBody {
                delivery: DeliveryKind::Link,
                to: None,
                url: Some(url.expose_secret().to_owned()),
                token: token.map(|token| token.expose_secret().to_owned()),
                expires_at: Some(expires_at),
            },
        ),
    };
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// Invite a pending user: a one-time link (replacing an earlier one) with which it
/// sets its first password, valid for 7 days.
///
/// With mail configured the link is mailed to the user and the reply is 202
/// `{"delivery": "mailed", "to": …}`; otherwise the reply is 201 with the link, its
/// `token` and `expiresAt`, to hand over. A mail server that does not take the
/// message is 502 (nothing was sent; try again).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/users/{userId}/invitation", tag = "users", operation_id = "inviteUser",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 201, description = "No mail is configured: the link", body = DeliveryBody),
        (status = 202, description = "Mailed to the user", body = DeliveryBody),
        (status = 400, description = "The user is not pending", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 502, description = "The mail server did not take the message", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
) -> Result<axum::response::Response, ApiError> {
    let delivery = state.directory.send_invitation(&caller, tenant, id).await?;
    Ok(delivered(delivery))
}

/// Send an active user a one-time link to choose a new password, valid for an hour
/// (replacing an earlier one).
///
/// With mail configured the link is mailed to the user and the reply is 202
/// `{"delivery": "mailed", "to": …}`; otherwise the reply is 201 with the link and
/// `expiresAt`, to hand over. A user who is not active is 400; a mail server that
/// does not take the message is 502 (nothing was sent; try again).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/users/{userId}/password-reset", tag = "users", operation_id = "sendPasswordReset",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 201, description = "No mail is configured: the link", body = DeliveryBody),
        (status = 202, description = "Mailed to the user", body = DeliveryBody),
        (status = 400, description = "The user is not active", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 502, description = "The mail server did not take the message", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn send_password_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
) -> Result<axum::response::Response, ApiError> {
    let delivery = state
        .directory
        .send_password_reset(&caller, tenant, id)
        .await?;
    Ok(delivered(delivery))
}

/// The address a password-reset link is asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequestBody {
    /// Any text: one that is no user's email, or no email at all, is answered alike
    /// (as sign-in answers it), so the document states no pattern.
    email: String,
}

/// Ask for a password-reset link by mail (no credential needed).
///
/// Always 202, whether or not the address is a user's (or an email at all): an
/// active user of the tenant is mailed a one-time link, valid for an hour, when mail
/// is configured; nobody else is sent anything. Requests are counted per address asked for (423 when too
/// many, as a locked account is) and per client address (429), with Retry-After.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/password-reset", tag = "auth", operation_id = "requestPasswordReset", security(()),
    params(("tenantId" = TenantId, Path)),
    request_body = PasswordResetRequestBody,
    responses(
        (status = 202, description = "Taken: a link is mailed if the address is an active user's"),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
        (status = 429, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Path(tenant): Path<TenantId>,
    Client(client): Client,
    Json(body): Json<PasswordResetRequestBody>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .request_password_reset(tenant, &body.email, client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A password-reset token and the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordBody {
    token: String,
    #[schema(format = Password)]
    password: String,
}

/// Set a new password with a password-reset token, once (no credential needed).
///
/// The account's sign-in lockout is lifted, and every token the user signed in with
/// stops working.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/reset-password", tag = "auth", operation_id = "resetPassword", security(()),
    params(("tenantId" = TenantId, Path)),
    request_body = ResetPasswordBody,
    responses(
        (status = 204, description = "The new password is set"),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 401, description = "Unknown, used or expired token", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Path(tenant): Path<TenantId>,
    Client(client): Client,
    Json(body): Json<ResetPasswordBody>,
) -> Result<StatusCode, ApiError> {
    let mut v = Violations::new();
    let Some(password) = v.check(
        "password",
        state.directory.password_policy().parse(body.password),
    ) else {
        return Err(invalid(v));
    };
    state
        .directory
        .reset_password(tenant, &body.token, &password, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation token and the password its user chooses.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationBody {
    token: String,
    #[schema(format = Password)]
    password: String,
}

/// Set a pending user's first password with its invitation; the user becomes active.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/accept-invitation", tag = "auth", operation_id = "acceptInvitation", security(()),
    params(("tenantId" = TenantId, Path)),
    request_body = AcceptInvitationBody,
    responses(
        (status = 204, description = "The password is set and the user active"),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 401, description = "Unknown, used or expired invitation", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    Path(tenant): Path<TenantId>,
    Client(client): Client,
    Json(body): Json<AcceptInvitationBody>,
) -> Result<StatusCode, ApiError> {
    let mut v = Violations::new();
    let Some(password) = v.check(
        "password",
        state.directory.password_policy().parse(body.password),
    ) else {
        return Err(invalid(v));
    };
    state
        .directory
        .accept_invitation(tenant, &body.token, &password, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
