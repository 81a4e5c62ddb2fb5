//! Self-service: one's own profile and password, two-factor sign-in (enrolment with
//! the QR code, recovery codes, turning it off) and one's console sessions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{PersonName, TenantId, User, UserPatch};
use crate::http::AppState;
use crate::service::{Precondition, ServiceError, TwoFactorStatus};
use crate::store::SessionSummary;

use super::pages::Chrome;
use super::session::Console;
use super::{Posted, UiError, render, see_other};

#[derive(Template)]
#[template(path = "account.html")]
struct ProfilePage {
    chrome: Chrome,
    tenant: TenantId,
    user: User,
    message: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn profile(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    let me = console.require_user_of(tenant)?;
    let user = state
        .directory
        .get_user(&console.caller, tenant, me)
        .await?;
    render(&ProfilePage {
        chrome: Chrome::of(&console, Some(tenant), "account"),
        tenant,
        user,
        message: match query.done.as_deref() {
            Some("password") => Some("Your password is changed."),
            Some("profile") => Some("Your profile is saved."),
            _ => None,
        },
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct NamesForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// Changes one's own names (what a member may change of itself).
pub(super) async fn change_profile(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<NamesForm>,
) -> Result<Response, UiError> {
    let me = console.require_user_of(tenant)?;
    let name = |field: &str, value: &str| {
        PersonName::parse(value.trim()).map_err(|e| ServiceError::invalid(field, e.reason))
    };
    let patch = UserPatch {
        first_name: Some(name("First name", &form.first_name)?),
        last_name: Some(name("Last name", &form.last_name)?),
        ..UserPatch::default()
    };
    state
        .directory
        .update_user(&console.caller, tenant, me, patch, Precondition::None)
        .await?;
    Ok(see_other(format!("/ui/t/{tenant}/account?done=profile")))
}

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage {
    chrome: Chrome,
    tenant: TenantId,
    error: Option<String>,
    min_chars: usize,
}

pub(super) async fn password_page(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    render(&PasswordPage {
        chrome: Chrome::of(&console, Some(tenant), "account"),
        tenant,
        error: None,
        min_chars: state.directory.password_policy().min_chars(),
    })
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    current: SecretString,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    confirm: SecretString,
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<PasswordForm>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let directory = &state.directory;
    let outcome = if form.password.expose_secret() != form.confirm.expose_secret() {
        Err("The two new passwords differ.".to_owned())
    } else {
        match directory
            .password_policy()
            .parse(form.password.expose_secret().to_owned())
        {
            Err(e) => Err(format!("The new password {}.", e.reason)),
            Ok(new) => match directory
                .change_own_password(&console.caller, form.current.expose_secret(), &new)
                .await
            {
                Ok(()) => Ok(()),
                Err(error) => refusal(error)?,
            },
        }
    };
    match outcome {
        Ok(()) => Ok(see_other(format!("/ui/t/{tenant}/account?done=password"))),
        Err(error) => {
            let mut response = render(&PasswordPage {
                chrome: Chrome::of(&console, Some(tenant), "account"),
                tenant,
                error: Some(error),
                min_chars: directory.password_policy().min_chars(),
            })?;
            *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            Ok(response)
        }
    }
}

/// A refusal a self-service form shows beside itself (`Ok(Err(..))`); anything
/// else becomes the error page.
fn refusal(error: ServiceError) -> Result<Result<(), String>, UiError> {
    match error {
        ServiceError::Invalid(violations) => Ok(Err(violations
            .iter()
            .map(|v| match v.field.as_str() {
                "currentPassword" | "password" => "The current password is not right.".to_owned(),
                "code" => "That code is not valid.".to_owned(),
                _ => format!("{}: {}.", v.field, v.reason),
            })
            .collect::<Vec<_>>()
            .join(" "))),
        ServiceError::TwoFactorRejected => Ok(Err("That code is not valid.".to_owned())),
        error @ (ServiceError::Locked { .. } | ServiceError::Conflict { .. }) => {
            Ok(Err(super::capitalised(&error.to_string())))
        }
        other => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "account_two_factor.html")]
struct TwoFactorPage {
    chrome: Chrome,
    tenant: TenantId,
    status: TwoFactorStatus,
    /// An enrolment just started: the QR code's data URI and the secret to type.
    enrolment: Option<(String, String)>,
    /// Recovery codes just made, shown this once.
    codes: Vec<String>,
    error: Option<String>,
    message: Option<&'static str>,
}

async fn two_factor_page(
    state: &AppState,
    console: &Console,
    page: impl FnOnce(TwoFactorStatus) -> TwoFactorPage,
) -> Result<Response, UiError> {
    let status = state
        .directory
        .own_two_factor_status(&console.caller)
        .await?;
    let page = page(status);
    let failed = page.error.is_some();
    let mut response = render(&page)?;
    if failed {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn blank(console: &Console, tenant: TenantId, status: TwoFactorStatus) -> TwoFactorPage {
    TwoFactorPage {
        chrome: Chrome::of(console, Some(tenant), "account"),
        tenant,
        status,
        enrolment: None,
        codes: vec![],
        error: None,
        message: None,
    }
}

pub(super) async fn two_factor(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let message = match query.done.as_deref() {
        Some("off") => Some("Two-factor sign-in is off."),
        _ => None,
    };
    two_factor_page(&state, &console, |status| TwoFactorPage {
        message,
        ..blank(&console, tenant, status)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct ProofForm {
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    code: SecretString,
}

pub(super) async fn start_totp(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<ProofForm>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let started = state
        .directory
        .start_totp_enrolment(&console.caller, form.password.expose_secret())
        .await;
    let (enrolment, error) = match started {
        Ok(started) => (
            Some((
                started.qr_code.expose_secret().to_owned(),
                started.secret.expose_secret().to_owned(),
            )),
            None,
        ),
        Err(error) => (None, refusal(error)?.err()),
    };
    two_factor_page(&state, &console, |status| TwoFactorPage {
        enrolment,
        error,
        ..blank(&console, tenant, status)
    })
    .await
}

pub(super) async fn confirm_totp(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<ProofForm>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let confirmed = state
        .directory
        .confirm_totp(&console.caller, form.code.expose_secret())
        .await;
    codes_page(
        &state,
        &console,
        tenant,
        confirmed,
        "Two-factor sign-in is on.",
    )
    .await
}

pub(super) async fn regenerate_codes(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<ProofForm>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let made = state
        .directory
        .regenerate_recovery_codes(&console.caller, form.code.expose_secret())
        .await;
    let done = "New recovery codes are made; the old ones no longer work.";
    codes_page(&state, &console, tenant, made, done).await
}

/// The two-factor page after recovery codes were made (shown this once, with
/// `done`), or with why they were not.
async fn codes_page(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
    made: Result<Vec<String>, ServiceError>,
    done: &'static str,
) -> Result<Response, UiError> {
    let (codes, error, message) = match made {
        Ok(codes) => (codes, None, Some(done)),
        Err(error) => (vec![], refusal(error)?.err(), None),
    };
    two_factor_page(state, console, |status| TwoFactorPage {
        codes,
        error,
        message,
        ..blank(console, tenant, status)
    })
    .await
}

pub(super) async fn disable_two_factor(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<ProofForm>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    match state
        .directory
        .disable_own_two_factor(&console.caller, form.code.expose_secret())
        .await
    {
        Ok(()) => Ok(see_other(format!(
            "/ui/t/{tenant}/account/two-factor?done=off"
        ))),
        Err(error) => {
            let error = refusal(error)?.err();
            two_factor_page(&state, &console, |status| TwoFactorPage {
                error,
                ..blank(&console, tenant, status)
            })
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub(super) struct SessionsPage {
    pub chrome: Chrome,
    /// Where the page's forms post: `/ui/t/{tenant}/account/sessions` or
    /// `/ui/operator/sessions`.
    pub base: String,
    pub sessions: Vec<SessionSummary>,
    pub current: Uuid,
    pub message: Option<&'static str>,
}

pub(super) async fn sessions(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    let sessions = state.directory.own_sessions(&console.caller).await?;
    render(&SessionsPage {
        chrome: Chrome::of(&console, Some(tenant), "account"),
        base: format!("/ui/t/{tenant}/account/sessions"),
        sessions,
        current: console.session_id,
        message: (query.done.as_deref() == Some("ended")).then_some("That session has ended."),
    })
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, session)): Path<(TenantId, Uuid)>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    state
        .directory
        .end_own_session(&console.caller, session)
        .await?;
    if session == console.session_id {
        return Ok(see_other(format!(
            "/ui/t/{tenant}/sign-in?reason=signed-out"
        )));
    }
    Ok(see_other(format!(
        "/ui/t/{tenant}/account/sessions?done=ended"
    )))
}

/// Signs out everywhere, this browser included.
pub(super) async fn end_all_sessions(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    console.require_user_of(tenant)?;
    state.directory.end_own_sessions(&console.caller).await?;
    Ok(see_other(format!(
        "/ui/t/{tenant}/sign-in?reason=signed-out"
    )))
}
