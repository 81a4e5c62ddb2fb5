//! What every page shares (the header and its navigation), and the pages that are
//! not about one kind of object: the landing page, a tenant's home, the settings.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::domain::TenantId;
use crate::http::AppState;
use crate::service::{SessionPolicy, SignInPolicy};

use super::session::{Console, Visitor};
use super::{UiError, render, see_other};

/// What the header of every page needs.
#[derive(Debug, Clone)]
pub(super) struct Chrome {
    pub tenant: Option<TenantId>,
    pub csrf: String,
    pub signed_in: bool,
    pub admin: bool,
    pub operator: bool,
    /// The navigation entry this page belongs to.
    pub section: &'static str,
}

impl Chrome {
    /// A signed-in page of `tenant` (`None`: the operator's own pages).
    pub fn of(console: &Console, tenant: Option<TenantId>, section: &'static str) -> Self {
        Self {
            tenant,
            csrf: console.csrf.clone(),
            signed_in: true,
            admin: tenant.is_some_and(|t| console.administers(t)),
            operator: console.is_operator(),
            section,
        }
    }

    /// A page shown before sign-in.
    pub fn visitor(visitor: &Visitor, tenant: Option<TenantId>) -> Self {
        Self {
            tenant,
            csrf: visitor.csrf.clone(),
            signed_in: false,
            admin: false,
            operator: false,
            section: "",
        }
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    chrome: Chrome,
    error: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LandingQuery {
    tenant: Option<String>,
}

/// `/ui`: signed in, to one's home; otherwise where to sign in.
pub(super) async fn landing(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<LandingQuery>,
) -> Result<Response, UiError> {
    if let Some(secret) = &visitor.session_secret
        && let Ok(session) = state.directory.session(secret).await
    {
        return Ok(see_other(match session.principal.tenant() {
            Some(tenant) => format!("/ui/t/{tenant}"),
            None => "/ui/operator/tenants".to_owned(),
        }));
    }
    let error = match query.tenant.as_deref().map(str::trim) {
        Some(id) => match TenantId::parse(id) {
            Ok(tenant) => return Ok(see_other(format!("/ui/t/{tenant}/sign-in"))),
            Err(_) => Some("A tenant id is a UUID, like the one in your sign-in link."),
        },
        None => None,
    };
    let page = Landing {
        chrome: Chrome::visitor(&visitor, None),
        error,
    };
    Ok(visitor.respond(render(&page)?))
}

/// A tenant's home: its users for an administrator, one's own account otherwise.
pub(super) async fn home(console: Console, Path(tenant): Path<TenantId>) -> Response {
    if console.administers(tenant) {
        see_other(format!("/ui/t/{tenant}/users"))
    } else {
        see_other(format!("/ui/t/{tenant}/account"))
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct Settings {
    chrome: Chrome,
    /// Each section's title and its rules, each a name and a value.
    sections: Vec<(&'static str, Vec<(&'static str, String)>)>,
}

/// The rules in force for the tenant: set for the whole server at start, shown here.
pub(super) async fn settings(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    state.directory.get_tenant(&console.caller, tenant).await?;
    let policy = state.directory.password_policy();
    let sign_in: SignInPolicy = state.directory.sign_in;
    let sessions: SessionPolicy = state.directory.session_policy();
    let sections = vec![
        (
            "Passwords",
            vec![
                (
                    "Shortest password",
                    format!("{} characters", policy.min_chars()),
                ),
                (
                    "Least strength",
                    format!("{} of 4 (zxcvbn)", policy.min_strength()),
                ),
            ],
        ),
        (
            "Sign-in lockout",
            vec![
                (
                    "Failures from one address",
                    format!(
                        "{} within {}",
                        sign_in.max_failures,
                        duration(sign_in.failure_window_seconds)
                    ),
                ),
                (
                    "Failures from all addresses",
                    sign_in.max_account_failures.to_string(),
                ),
                ("Locked for", duration(sign_in.lockout_seconds)),
                (
                    "Attempts per client address",
                    format!(
                        "{} within {}",
                        sign_in.max_attempts_per_address,
                        duration(sign_in.address_window_seconds)
                    ),
                ),
            ],
        ),
        (
            "Console sessions",
            vec![
                ("Idle timeout", duration(sessions.idle_seconds)),
                ("Absolute timeout", duration(sessions.absolute_seconds)),
            ],
        ),
    ];
    render(&Settings {
        chrome: Chrome::of(&console, Some(tenant), "settings"),
        sections,
    })
}

/// Seconds as a person reads them: "15 minutes", "12 hours".
pub(super) fn duration(seconds: i64) -> String {
    if seconds % 3600 == 0 && seconds >= 3600 {
        plural(seconds / 3600, "hour")
    } else if seconds % 60 == 0 && seconds >= 60 {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
