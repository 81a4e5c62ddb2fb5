use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{TOTP_ALGORITHM, TOTP_DIGITS, TOTP_STEP_SECONDS};
use crate::domain::{TenantId, UserId};
use crate::http::AppState;

use super::error::{ApiError, Problem};
use super::extract::{Auth, Json, Path};

const PROBLEM: &str = "application/problem+json";

/// Where the signed-in user's two-factor sign-in stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorStatusBody {
    /// Signing in needs a code as well.
    enabled: bool,
    /// An enrolment awaits its first code.
    pending: bool,
    recovery_codes_left: i64,
}

/// Where the signed-in user's two-factor sign-in stands.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/auth/two-factor", tag = "auth", operation_id = "getOwnTwoFactor",
    params(("tenantId" = TenantId, Path)),
    responses(
        (status = 200, body = TwoFactorStatusBody),
        (status = 401, body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a signed-in user's token", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
) -> Result<axum::Json<TwoFactorStatusBody>, ApiError> {
    let status = state.directory.own_two_factor_status(&caller).await?;
    Ok(axum::Json(TwoFactorStatusBody {
        enabled: status.enabled,
        pending: status.pending,
        recovery_codes_left: status.recovery_codes_left,
    }))
}

/// The signed-in user's password, to enrol an authenticator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    #[schema(format = Password)]
    password: String,
}

/// What an authenticator app needs, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentBody {
    /// The shared secret in base32, for typing into the app.
    secret: String,
    /// The `otpauth://totp/…` key URI (SHA-1, 6 digits, 30 seconds).
    otpauth_uri: String,
    /// A QR code of the URI, as an SVG image in a `data:` URI.
    qr_code: String,
    algorithm: &'static str,
    digits: usize,
    period: u64,
}

/// Start enrolling a TOTP authenticator (RFC 6238) for the signed-in user.
///
/// Needs the user's password. Two-factor sign-in is not on until a first code
/// confirms the enrolment; starting again replaces a pending enrolment.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/two-factor/totp", tag = "auth", operation_id = "enrolOwnTotp",
    params(("tenantId" = TenantId, Path)),
    request_body = EnrolBody,
    responses(
        (status = 201, body = EnrolmentBody),
        (status = 400, description = "Wrong password", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 409, description = "Two-factor sign-in is already on", body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    Json(body): Json<EnrolBody>,
) -> Result<impl IntoResponse, ApiError> {
    let started = state
        .directory
        .start_totp_enrolment(&caller, &body.password)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(EnrolmentBody {
            secret: started.secret.expose_secret().to_owned(),
            otpauth_uri: started.otpauth_uri.expose_secret().to_owned(),
            qr_code: started.qr_code.expose_secret().to_owned(),
            algorithm: TOTP_ALGORITHM,
            digits: TOTP_DIGITS,
            period: TOTP_STEP_SECONDS,
        }),
    ))
}

/// A code from the authenticator app, or an unused recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

/// One-time recovery codes, shown this once; each signs in once in place of a code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesBody {
    recovery_codes: Vec<String>,
}

fn recovery_codes(codes: Vec<String>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(RecoveryCodesBody {
            recovery_codes: codes,
        }),
    )
}

/// Confirm the pending enrolment with a first code: two-factor sign-in is on.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/two-factor/totp/confirm", tag = "auth", operation_id = "confirmOwnTotp",
    params(("tenantId" = TenantId, Path)),
    request_body = CodeBody,
    responses(
        (status = 200, body = RecoveryCodesBody),
        (status = 400, description = "Wrong code, or nothing pending", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 409, description = "Two-factor sign-in is already on", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    Json(body): Json<CodeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let codes = state.directory.confirm_totp(&caller, &body.code).await?;
    Ok(recovery_codes(codes))
}

/// Replace the signed-in user's recovery codes (a current code is needed).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/two-factor/recovery-codes", tag = "auth", operation_id = "regenerateOwnRecoveryCodes",
    params(("tenantId" = TenantId, Path)),
    request_body = CodeBody,
    responses(
        (status = 200, body = RecoveryCodesBody),
        (status = 400, description = "Wrong code, or two-factor is off", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    Json(body): Json<CodeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let codes = state
        .directory
        .regenerate_recovery_codes(&caller, &body.code)
        .await?;
    Ok(recovery_codes(codes))
}

/// Turn the signed-in user's two-factor sign-in off (a current code is needed).
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/auth/two-factor/disable", tag = "auth", operation_id = "disableOwnTwoFactor",
    params(("tenantId" = TenantId, Path)),
    request_body = CodeBody,
    responses(
        (status = 204, description = "Two-factor sign-in is off"),
        (status = 400, description = "Wrong code, or two-factor is off", body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 423, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn disable_own(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(_tenant): Path<TenantId>,
    Json(body): Json<CodeBody>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .disable_own_two_factor(&caller, &body.code)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn a user's two-factor sign-in off (an administrator's reset, for a user who
/// lost its authenticator and recovery codes).
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/users/{userId}/two-factor", tag = "users", operation_id = "disableUserTwoFactor",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 204, description = "Two-factor sign-in is off"),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .disable_two_factor(&caller, tenant, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
