//! The operator's console: signing in with the operator credential, the tenants
//! (create, rename, delete, and a way into each one's administration), and the
//! operator's own sessions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{PageCursor, PageLimit, PageRequest, Tenant, TenantId, TenantName};
use crate::http::AppState;
use crate::service::{Precondition, ServiceError};

use super::account::SessionsPage;
use super::pages::Chrome;
use super::session::{Console, Visitor};
use super::{Posted, UiError, render, see_other};

#[derive(Template)]
#[template(path = "operator_sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    error: Option<&'static str>,
}

pub(super) async fn sign_in_page(visitor: Visitor) -> Result<Response, UiError> {
    let page = SignInPage {
        chrome: Chrome::visitor(&visitor, None),
        error: None,
    };
    Ok(visitor.respond(render(&page)?))
}

#[derive(Deserialize)]
pub(super) struct CredentialForm {
    #[serde(default)]
    credential: SecretString,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    Posted(form): Posted<CredentialForm>,
) -> Result<Response, UiError> {
    match state
        .directory
        .start_operator_session(
            form.credential.expose_secret().trim(),
            visitor.client.clone(),
        )
        .await
    {
        Ok(session) => {
            let mut response = see_other("/ui/operator/tenants".to_owned());
            response.headers_mut().append(
                header::SET_COOKIE,
                visitor.session_cookie(session.secret.expose_secret()),
            );
            Ok(response)
        }
        Err(ServiceError::Unauthorized) => {
            let mut response = render(&SignInPage {
                chrome: Chrome::visitor(&visitor, None),
                error: Some("That is not the operator credential."),
            })?;
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

/// Refuses a session that is not the operator's.
fn require_operator(console: &Console) -> Result<(), UiError> {
    if console.is_operator() {
        Ok(())
    } else {
        Err(UiError::Service(ServiceError::Forbidden(
            "only the operator manages tenants",
        )))
    }
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    tenants: Vec<Tenant>,
    next: Option<String>,
    error: Option<String>,
    message: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct TenantsQuery {
    cursor: Option<String>,
    done: Option<String>,
}

async fn tenants_page(
    state: &AppState,
    console: &Console,
    cursor: Option<&str>,
    error: Option<String>,
    message: Option<&'static str>,
) -> Result<Response, UiError> {
    let after = cursor
        .filter(|c| !c.is_empty())
        .map(PageCursor::parse)
        .transpose()
        .map_err(|_| ServiceError::invalid("cursor", "that page link is not valid"))?;
    let page = state
        .directory
        .list_tenants(
            &console.caller,
            PageRequest {
                limit: PageLimit::new(50).unwrap_or_default(),
                after,
            },
        )
        .await?;
    let failed = error.is_some();
    let mut response = render(&TenantsPage {
        chrome: Chrome::of(console, None, "tenants"),
        tenants: page.items,
        next: page.next.map(|c| c.encode()),
        error,
        message,
    })?;
    if failed {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(super) async fn tenants(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<TenantsQuery>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    let message = match query.done.as_deref() {
        Some("renamed") => Some("Tenant renamed."),
        Some("deleted") => Some("Tenant deleted with everything in it."),
        _ => None,
    };
    tenants_page(&state, &console, query.cursor.as_deref(), None, message).await
}

#[derive(Debug, Deserialize)]
pub(super) struct TenantForm {
    #[serde(default)]
    name: String,
}

fn tenant_name(form: &TenantForm) -> Result<TenantName, ServiceError> {
    TenantName::parse(form.name.trim().to_owned())
        .map_err(|e| ServiceError::invalid("Name", e.reason))
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Posted(form): Posted<TenantForm>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    let created = match tenant_name(&form) {
        Ok(name) => state.directory.create_tenant(&console.caller, name).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(tenant) => Ok(see_other(format!("/ui/t/{}/users", tenant.id))),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::Conflict { .. })) => {
            let error = super::groups::form_error(&error);
            tenants_page(&state, &console, None, Some(error), None).await
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn rename(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<TenantForm>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    let name = tenant_name(&form)?;
    state
        .directory
        .rename_tenant(&console.caller, tenant, name, Precondition::None)
        .await?;
    Ok(see_other("/ui/operator/tenants?done=renamed".to_owned()))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    state
        .directory
        .delete_tenant(&console.caller, tenant, Precondition::None)
        .await?;
    Ok(see_other("/ui/operator/tenants?done=deleted".to_owned()))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn sessions(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<DoneQuery>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    let sessions = state.directory.own_sessions(&console.caller).await?;
    render(&SessionsPage {
        chrome: Chrome::of(&console, None, "sessions"),
        base: "/ui/operator/sessions".to_owned(),
        sessions,
        current: console.session_id,
        message: (query.done.as_deref() == Some("ended")).then_some("That session has ended."),
    })
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    console: Console,
    Path(session): Path<Uuid>,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    state
        .directory
        .end_own_session(&console.caller, session)
        .await?;
    if session == console.session_id {
        return Ok(see_other("/ui/operator/sign-in".to_owned()));
    }
    Ok(see_other("/ui/operator/sessions?done=ended".to_owned()))
}

pub(super) async fn end_all_sessions(
    State(state): State<AppState>,
    console: Console,
) -> Result<Response, UiError> {
    require_operator(&console)?;
    state.directory.end_own_sessions(&console.caller).await?;
    Ok(see_other("/ui/operator/sign-in".to_owned()))
}
