//! Signing in and out of a tenant, the second factor, and accepting an invitation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::TenantId;
use crate::http::AppState;
use crate::service::{ServiceError, SessionStart};

use super::pages::{Chrome, duration};
use super::session::Visitor;
use super::{Posted, UiError, render, see_other};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    tenant: TenantId,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SignInQuery {
    /// Why the visitor is here again: `code-expired`, `signed-out`, `password-set`.
    reason: Option<String>,
}

pub(super) async fn page(
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, UiError> {
    let notice = match query.reason.as_deref() {
        Some("code-expired") => Some("The sign-in took too long; start again."),
        Some("signed-out") => Some("You are signed out."),
        Some("password-set") => Some("Your password is set. Sign in with it."),
        _ => None,
    };
    let page = SignInPage {
        chrome: Chrome::visitor(&visitor, Some(tenant)),
        tenant,
        email: String::new(),
        error: None,
        notice,
    };
    Ok(visitor.respond(render(&page)?))
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: SecretString,
}

/// What a refused sign-in tells the person: never which of email and password was
/// wrong.
fn sign_in_refusal(error: ServiceError) -> Result<String, UiError> {
    Ok(match error {
        ServiceError::Unauthorized => "The email or password is not right.".to_owned(),
        ServiceError::Locked {
            retry_after_seconds,
        } => format!(
            "This account is locked after too many failed sign-ins. Try again in {}.",
            duration(retry_after_seconds)
        ),
        ServiceError::TooManyAttempts {
            retry_after_seconds,
        } => format!(
            "Too many sign-in attempts from your address. Try again in {}.",
            duration(retry_after_seconds)
        ),
        ServiceError::Forbidden(reason) => super::capitalised(reason),
        ServiceError::TwoFactorRejected => "That code is not valid. Try another.".to_owned(),
        other => return Err(other.into()),
    })
}

pub(super) async fn submit(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<SignInForm>,
) -> Result<Response, UiError> {
    let started = state
        .directory
        .start_session(
            tenant,
            &form.email,
            form.password.expose_secret(),
            visitor.client.clone(),
        )
        .await;
    let (secret, next) = match started {
        Ok(SessionStart::SignedIn(session)) => (session.secret, format!("/ui/t/{tenant}")),
        Ok(SessionStart::SecondFactor(session)) => {
            (session.secret, format!("/ui/t/{tenant}/sign-in/code"))
        }
        Err(error) => {
            let error = sign_in_refusal(error)?;
            let page = SignInPage {
                chrome: Chrome::visitor(&visitor, Some(tenant)),
                tenant,
                email: form.email,
                error: Some(error),
                notice: None,
            };
            let mut response = render(&page)?;
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Ok(response);
        }
    };
    let mut response = see_other(next);
    response.headers_mut().append(
        header::SET_COOKIE,
        visitor.session_cookie(secret.expose_secret()),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    chrome: Chrome,
    tenant: TenantId,
    error: Option<String>,
}

pub(super) async fn code_page(
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    if visitor.session_secret.is_none() {
        return Ok(see_other(format!("/ui/t/{tenant}/sign-in")));
    }
    render(&CodePage {
        chrome: Chrome::visitor(&visitor, Some(tenant)),
        tenant,
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    code: SecretString,
}

pub(super) async fn submit_code(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<CodeForm>,
) -> Result<Response, UiError> {
    let secret = visitor.session_secret.clone().unwrap_or_default();
    match state
        .directory
        .finish_second_factor(&secret, form.code.expose_secret(), visitor.client.clone())
        .await
    {
        Ok(session) => {
            let mut response = see_other(format!("/ui/t/{tenant}"));
            response.headers_mut().append(
                header::SET_COOKIE,
                visitor.session_cookie(session.secret.expose_secret()),
            );
            Ok(response)
        }
        Err(ServiceError::Unauthorized) => Ok(see_other(format!(
            "/ui/t/{tenant}/sign-in?reason=code-expired"
        ))),
        Err(error) => {
            let error = sign_in_refusal(error)?;
            let mut response = render(&CodePage {
                chrome: Chrome::visitor(&visitor, Some(tenant)),
                tenant,
                error: Some(error),
            })?;
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(response)
        }
    }
}

/// Signs out: this browser's session ends, and the cookie with it.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, UiError> {
    let secret = visitor.session_secret.clone().unwrap_or_default();
    let tenant = crate::auth::parse_session_secret(&secret).and_then(|(tenant, _)| tenant);
    state
        .directory
        .end_session(&secret, visitor.client.clone())
        .await?;
    let to = match tenant {
        Some(tenant) => format!("/ui/t/{tenant}/sign-in?reason=signed-out"),
        None => "/ui/operator/sign-in".to_owned(),
    };
    let mut response = see_other(to);
    response
        .headers_mut()
        .append(header::SET_COOKIE, visitor.expired_session_cookie());
    Ok(response)
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    token: String,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    pub token: String,
}

#[derive(Deserialize)]
pub(super) struct SetPasswordForm {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub password: SecretString,
    #[serde(default)]
    pub confirm: SecretString,
}

impl SetPasswordForm {
    /// The new password under the policy, or what to tell the person.
    pub fn password(
        &self,
        policy: &crate::domain::PasswordPolicy,
    ) -> Result<crate::domain::NewPassword, String> {
        if self.password.expose_secret() != self.confirm.expose_secret() {
            return Err("The two passwords differ.".to_owned());
        }
        policy
            .parse(self.password.expose_secret().to_owned())
            .map_err(|e| format!("The password {}.", e.reason))
    }
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    chrome: Chrome,
    tenant: TenantId,
    sent: bool,
    mail: bool,
    error: Option<String>,
}

pub(super) async fn forgot_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    let page = ForgotPage {
        chrome: Chrome::visitor(&visitor, Some(tenant)),
        tenant,
        sent: false,
        mail: state.directory.mail_configured(),
        error: None,
    };
    Ok(visitor.respond(render(&page)?))
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// Asks for a reset link: the same answer whether or not the address is a user's.
pub(super) async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<ForgotForm>,
) -> Result<Response, UiError> {
    let error = match state
        .directory
        .request_password_reset(tenant, &form.email, visitor.client.clone())
        .await
    {
        Ok(()) => None,
        Err(error) => Some(sign_in_refusal(error)?),
    };
    render(&ForgotPage {
        chrome: Chrome::visitor(&visitor, Some(tenant)),
        tenant,
        sent: error.is_none(),
        mail: state.directory.mail_configured(),
        error,
    })
}

/// A page that sets a password with a one-time link's token: an invitation's or a
/// reset's.
#[derive(Debug, Clone, Copy)]
pub(super) enum OneTimeLink {
    Invitation,
    Reset,
}

impl OneTimeLink {
    fn heading(self) -> &'static str {
        match self {
            OneTimeLink::Invitation => "Accept your invitation",
            OneTimeLink::Reset => "Choose a new password",
        }
    }

    fn path(self, tenant: TenantId) -> String {
        match self {
            OneTimeLink::Invitation => format!("/ui/t/{tenant}/accept-invitation"),
            OneTimeLink::Reset => format!("/ui/t/{tenant}/reset-password"),
        }
    }

    /// What a token that is not (or no longer) valid tells the person.
    fn refused(self) -> &'static str {
        match self {
            OneTimeLink::Invitation => {
                "This invitation link is not valid: it may have been used or have \
                 expired. Ask your administrator for a new one."
            }
            OneTimeLink::Reset => {
                "This reset link is not valid: it may have been used or have expired. \
                 Ask for a new one."
            }
        }
    }

    fn page(
        self,
        state: &AppState,
        visitor: &Visitor,
        tenant: TenantId,
        token: String,
        error: Option<String>,
    ) -> SetPasswordPage {
        SetPasswordPage {
            chrome: Chrome::visitor(visitor, Some(tenant)),
            heading: self.heading(),
            action: self.path(tenant),
            token,
            error,
            min_chars: state.directory.password_policy().min_chars(),
        }
    }

    async fn show(
        self,
        state: &AppState,
        visitor: &Visitor,
        tenant: TenantId,
        token: String,
    ) -> Result<Response, UiError> {
        Ok(visitor.respond(render(&self.page(state, visitor, tenant, token, None))?))
    }

    /// Sets the password the form names with its token: to the sign-in page once it
    /// is set, else the form again with why not.
    async fn submit(
        self,
        state: &AppState,
        visitor: &Visitor,
        tenant: TenantId,
        form: SetPasswordForm,
    ) -> Result<Response, UiError> {
        let directory = &state.directory;
        let refusal = match form.password(directory.password_policy()) {
            Err(message) => message,
            Ok(password) => {
                let client = visitor.client.clone();
                let set = match self {
                    OneTimeLink::Invitation => {
                        directory
                            .accept_invitation(tenant, &form.token, &password, client)
                            .await
                    }
                    OneTimeLink::Reset => {
                        directory
                            .reset_password(tenant, &form.token, &password, client)
                            .await
                    }
                };
                match set {
                    Ok(()) => {
                        return Ok(see_other(format!(
                            "/ui/t/{tenant}/sign-in?reason=password-set"
                        )));
                    }
                    Err(ServiceError::Unauthorized) => self.refused().to_owned(),
                    Err(other) => return Err(other.into()),
                }
            }
        };
        let page = self.page(state, visitor, tenant, form.token, Some(refusal));
        let mut response = render(&page)?;
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        Ok(response)
    }
}

pub(super) async fn invitation_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, UiError> {
    OneTimeLink::Invitation
        .show(&state, &visitor, tenant, query.token)
        .await
}

pub(super) async fn accept_invitation(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<SetPasswordForm>,
) -> Result<Response, UiError> {
    OneTimeLink::Invitation
        .submit(&state, &visitor, tenant, form)
        .await
}

pub(super) async fn reset_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, UiError> {
    OneTimeLink::Reset
        .show(&state, &visitor, tenant, query.token)
        .await
}

pub(super) async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<SetPasswordForm>,
) -> Result<Response, UiError> {
    OneTimeLink::Reset
        .submit(&state, &visitor, tenant, form)
        .await
}
