//! A tenant's API keys: create (the secret is shown once), list with last use,
//! revoke.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::domain::{
    ApiKey, ApiKeyId, Description, KeyName, NewApiKey, PageCursor, PageLimit, PageRequest,
    TenantId, Timestamp,
};
use crate::http::AppState;
use crate::service::ServiceError;

use super::pages::Chrome;
use super::session::Console;
use super::{Posted, UiError, render, see_other};

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage {
    chrome: Chrome,
    tenant: TenantId,
    keys: Vec<ApiKey>,
    next: Option<String>,
    now: Timestamp,
    /// A key just made: its name and secret, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
    message: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct KeysQuery {
    cursor: Option<String>,
    done: Option<String>,
}

async fn page(
    state: &AppState,
    console: &Console,
    tenant: TenantId,
    cursor: Option<&str>,
) -> Result<(Vec<ApiKey>, Option<String>), UiError> {
    let after = cursor
        .filter(|c| !c.is_empty())
        .map(PageCursor::parse)
        .transpose()
        .map_err(|_| ServiceError::invalid("cursor", "that page link is not valid"))?;
    let page = state
        .directory
        .list_api_keys(
            &console.caller,
            tenant,
            PageRequest {
                limit: PageLimit::new(50).unwrap_or_default(),
                after,
            },
        )
        .await?;
    Ok((page.items, page.next.map(|c| c.encode())))
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<KeysQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let (keys, next) = page(&state, &console, tenant, query.cursor.as_deref()).await?;
    render(&KeysPage {
        chrome: Chrome::of(&console, Some(tenant), "api-keys"),
        tenant,
        keys,
        next,
        now: Timestamp::now(),
        created: None,
        error: None,
        message: (query.done.as_deref() == Some("revoked")).then_some("The key is revoked."),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    role: String,
}

impl NewKeyForm {
    fn parse(self) -> Result<NewApiKey, ServiceError> {
        let name = KeyName::parse(self.name.trim().to_owned())
            .map_err(|e| ServiceError::invalid("Name", e.reason))?;
        let description = match self.description.trim() {
            "" => Description::empty(),
            d => Description::parse(d.to_owned())
                .map_err(|e| ServiceError::invalid("Description", e.reason))?,
        };
        let role = self
            .role
            .parse()
            .map_err(|_| ServiceError::invalid("Role", "choose admin or reader"))?;
        Ok(NewApiKey {
            name,
            description,
            role,
            expires_at: None,
        })
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Posted(form): Posted<NewKeyForm>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let created = match form.parse() {
        Ok(new) => state
            .directory
            .create_api_key(&console.caller, tenant, new)
            .await
            .map(|created| {
                (
                    created.key.name.clone(),
                    created.secret.expose_secret().to_owned(),
                )
            }),
        Err(error) => Err(error),
    };
    let (created, error) = match created {
        Ok(created) => (Some(created), None),
        Err(error @ ServiceError::Invalid(_)) => (None, Some(super::groups::form_error(&error))),
        Err(other) => return Err(other.into()),
    };
    let (keys, next) = page(&state, &console, tenant, None).await?;
    let failed = error.is_some();
    let mut response = render(&KeysPage {
        chrome: Chrome::of(&console, Some(tenant), "api-keys"),
        tenant,
        keys,
        next,
        now: Timestamp::now(),
        created,
        error,
        message: None,
    })?;
    if failed {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path((tenant, key)): Path<(TenantId, ApiKeyId)>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    state
        .directory
        .revoke_api_key(&console.caller, tenant, key)
        .await?;
    Ok(see_other(format!("/ui/t/{tenant}/api-keys?done=revoked")))
}
