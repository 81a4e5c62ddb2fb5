//! The web console at `/ui`: server-rendered pages (askama templates in
//! `templates/`), htmx for the parts that update in place, static assets embedded in
//! the binary. Like every face, its handlers only translate: a form becomes a
//! service call, its answer a page.
//!
//! Every page works without JavaScript. Every state-changing request carries a CSRF
//! token (see [`session`]); every response carries a Content-Security-Policy that
//! allows no inline script and no framing.

mod account;
mod api_keys;
mod assets;
mod audit;
mod groups;
mod operator;
mod pages;
mod session;
mod sign_in;
mod users;

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::domain::TenantId;
use crate::http::AppState;
use crate::http::face::Refusal;
use crate::service::ServiceError;

pub use session::Console;

/// The console's routes, each refusing in HTML and within the request time limit.
pub fn router(limit: Duration) -> Router<AppState> {
    let tenant = Router::new()
        .route("/ui/t/{tenant}", get(pages::home))
        .route(
            "/ui/t/{tenant}/sign-in",
            get(sign_in::page).post(sign_in::submit),
        )
        .route(
            "/ui/t/{tenant}/sign-in/code",
            get(sign_in::code_page).post(sign_in::submit_code),
        )
        .route(
            "/ui/t/{tenant}/accept-invitation",
            get(sign_in::invitation_page).post(sign_in::accept_invitation),
        )
        .route(
            "/ui/t/{tenant}/forgot-password",
            get(sign_in::forgot_page).post(sign_in::forgot),
        )
        .route(
            "/ui/t/{tenant}/reset-password",
            get(sign_in::reset_page).post(sign_in::reset),
        )
        .route("/ui/t/{tenant}/users", get(users::list).post(users::create))
        .route("/ui/t/{tenant}/users/new", get(users::new_form))
        .route(
            "/ui/t/{tenant}/users/{user}",
            get(users::show).post(users::update),
        )
        .route(
            "/ui/t/{tenant}/users/{user}/groups",
            post(users::join_group),
        )
        .route(
            "/ui/t/{tenant}/users/{user}/attributes",
            post(users::set_attributes),
        )
        .route("/ui/t/{tenant}/users/{user}/{action}", post(users::act))
        .route(
            "/ui/t/{tenant}/groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/ui/t/{tenant}/groups/{group}",
            get(groups::show).post(groups::rename),
        )
        .route("/ui/t/{tenant}/groups/{group}/delete", post(groups::delete))
        .route(
            "/ui/t/{tenant}/groups/{group}/members",
            post(groups::add_member),
        )
        .route(
            "/ui/t/{tenant}/groups/{group}/members/{member}/remove",
            post(groups::remove_member),
        )
        .route("/ui/t/{tenant}/user-picker", get(groups::user_picker))
        .route(
            "/ui/t/{tenant}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/ui/t/{tenant}/api-keys/{key}/revoke",
            post(api_keys::revoke),
        )
        .route("/ui/t/{tenant}/audit", get(audit::list))
        .route("/ui/t/{tenant}/settings", get(pages::settings))
        .route(
            "/ui/t/{tenant}/account",
            get(account::profile).post(account::change_profile),
        )
        .route(
            "/ui/t/{tenant}/account/password",
            get(account::password_page).post(account::change_password),
        )
        .route(
            "/ui/t/{tenant}/account/two-factor",
            get(account::two_factor),
        )
        .route(
            "/ui/t/{tenant}/account/two-factor/start",
            post(account::start_totp),
        )
        .route(
            "/ui/t/{tenant}/account/two-factor/confirm",
            post(account::confirm_totp),
        )
        .route(
            "/ui/t/{tenant}/account/two-factor/recovery-codes",
            post(account::regenerate_codes),
        )
        .route(
            "/ui/t/{tenant}/account/two-factor/disable",
            post(account::disable_two_factor),
        )
        .route("/ui/t/{tenant}/account/sessions", get(account::sessions))
        .route(
            "/ui/t/{tenant}/account/sessions/{session}/end",
            post(account::end_session),
        )
        .route(
            "/ui/t/{tenant}/account/sessions/end-all",
            post(account::end_all_sessions),
        );
    let operator = Router::new()
        .route(
            "/ui/operator/sign-in",
            get(operator::sign_in_page).post(operator::sign_in),
        )
        .route(
            "/ui/operator/tenants",
            get(operator::tenants).post(operator::create),
        )
        .route("/ui/operator/tenants/{tenant}", post(operator::rename))
        .route(
            "/ui/operator/tenants/{tenant}/delete",
            post(operator::delete),
        )
        .route("/ui/operator/sessions", get(operator::sessions))
        .route(
            "/ui/operator/sessions/{session}/end",
            post(operator::end_session),
        )
        .route(
            "/ui/operator/sessions/end-all",
            post(operator::end_all_sessions),
        );
    Router::new()
        .route("/ui", get(pages::landing))
        .route("/ui/", get(pages::landing))
        .route("/ui/static/{name}", get(assets::asset))
        .route("/ui/sign-out", post(sign_in::sign_out))
        .merge(tenant)
        .merge(operator)
        .layer(axum::middleware::from_fn(session::check_csrf))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<UiError>,
        ))
        .layer(axum::middleware::map_response(security_headers))
}

/// The headers every console response carries: no inline script, no framing, no
/// referrer (links carry one-time tokens), no sniffing, no caching of pages.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Why a console request did not get its page.
#[derive(Debug)]
pub enum UiError {
    Service(ServiceError),
    /// Not signed in (or no longer): to the sign-in page of this tenant, or of the
    /// operator.
    SignIn(Option<TenantId>),
    Refused(Refusal),
    /// The CSRF token is missing or wrong (403).
    Csrf,
    Template(askama::Error),
}

impl From<ServiceError> for UiError {
    fn from(error: ServiceError) -> Self {
        UiError::Service(error)
    }
}

impl From<askama::Error> for UiError {
    fn from(error: askama::Error) -> Self {
        UiError::Template(error)
    }
}

impl From<Refusal> for UiError {
    fn from(refusal: Refusal) -> Self {
        UiError::Refused(refusal)
    }
}

/// A page that says what went wrong.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: String,
}

impl UiError {
    /// The page's status, title and message, or (`Err`) where to send the browser.
    fn status_and_message(self) -> Result<(StatusCode, &'static str, String), String> {
        Ok(match self {
            UiError::SignIn(tenant) => {
                let to = match tenant {
                    Some(tenant) => format!("/ui/t/{tenant}/sign-in"),
                    None => "/ui/operator/sign-in".to_owned(),
                };
                return Err(to);
            }
            UiError::Refused(refusal) => (refusal.status(), "Not available", refusal.message()),
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from this console, or it has expired. Go back, \
                 reload the page and try again."
                    .to_owned(),
            ),
            UiError::Template(error) => {
                tracing::error!(%error, "a console page could not be rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not complete the request.".to_owned(),
                )
            }
            UiError::Service(error) => match error {
                ServiceError::NotFound(resource) => (
                    StatusCode::NOT_FOUND,
                    "Not found",
                    format!("No such {resource}."),
                ),
                ServiceError::Forbidden(reason) => {
                    (StatusCode::FORBIDDEN, "Not allowed", capitalised(reason))
                }
                ServiceError::Unauthorized => (
                    StatusCode::UNAUTHORIZED,
                    "Sign in",
                    "Please sign in.".to_owned(),
                ),
                ServiceError::Invalid(violations) => (
                    StatusCode::BAD_REQUEST,
                    "Check the form",
                    violations
                        .iter()
                        .map(|v| format!("{}: {}", v.field, v.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                ServiceError::PreconditionFailed => (
                    StatusCode::PRECONDITION_FAILED,
                    "Changed meanwhile",
                    "Someone changed this meanwhile; reload the page and try again.".to_owned(),
                ),
                ServiceError::Internal(error) => {
                    tracing::error!(error = format!("{error:#}"), "console request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "The server could not complete the request.".to_owned(),
                    )
                }
                other => (
                    status_of(&other),
                    "Not done",
                    capitalised(&other.to_string()),
                ),
            },
        })
    }
}

/// The status of the errors that carry no page of their own.
fn status_of(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::Conflict { .. } | ServiceError::Cycle(_) => StatusCode::CONFLICT,
        ServiceError::Locked { .. } => StatusCode::LOCKED,
        ServiceError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
        ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::MailNotSent => StatusCode::BAD_GATEWAY,
        ServiceError::TwoFactorRequired | ServiceError::TwoFactorRejected => {
            StatusCode::UNAUTHORIZED
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A sentence from a service message: first letter up, full stop at the end.
pub(super) fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self.status_and_message() {
            Err(to) => Redirect::to(&to).into_response(),
            Ok((status, title, message)) => match (ErrorPage { title, message }).render() {
                Ok(body) => (status, axum::response::Html(body)).into_response(),
                Err(_) => status.into_response(),
            },
        }
    }
}

/// The console's answer to what the HTTP layer refuses (unknown path and the like).
pub fn refuse(refusal: Refusal) -> Response {
    UiError::Refused(refusal).into_response()
}

/// Renders a page.
pub(super) fn render(page: &impl Template) -> Result<Response, UiError> {
    Ok(axum::response::Html(page.render()?).into_response())
}

/// After a form's change: back to a page, with 303 so that reload does not resend.
pub(super) fn see_other(to: String) -> Response {
    Redirect::to(&to).into_response()
}

/// A submitted form; one that cannot be read is a 400 page.
pub(super) struct Posted<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Posted<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = UiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, UiError> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(form)) => Ok(Posted(form)),
            Err(rejection) => Err(UiError::Refused(Refusal::BadQuery {
                parameter: None,
                reason: format!("the form could not be read: {}", rejection.body_text()),
            })),
        }
    }
}
