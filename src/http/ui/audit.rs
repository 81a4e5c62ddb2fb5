//! The tenant's audit log, filtered by actor, target, action and time.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::domain::{
    Action, Actor, AuditEvent, PageCursor, PageLimit, PageRequest, TenantId, Timestamp,
    parse_subject_filter,
};
use crate::http::AppState;
use crate::store::AuditFilter;

use super::pages::Chrome;
use super::session::Console;
use super::{UiError, render};

/// One event as a row of a table.
pub(super) struct EventRow {
    pub when: String,
    pub action: &'static str,
    pub actor: String,
    pub target: String,
    pub details: String,
}

impl From<AuditEvent> for EventRow {
    fn from(event: AuditEvent) -> Self {
        let actor = match event.actor {
            Actor::Operator => "the operator".to_owned(),
            Actor::Cli => "the command line".to_owned(),
            Actor::Anonymous => "someone not signed in".to_owned(),
            Actor::ApiKey(id) => format!("API key {id}"),
            Actor::User(id) => format!("user {id}"),
        };
        let details = match &event.details {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => other.to_string(),
        };
        Self {
            when: event.occurred_at.to_string(),
            action: event.action.as_str(),
            actor,
            target: format!("{} {}", event.target_kind.as_str(), event.target_id),
            details,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    tenant: TenantId,
    query: AuditQuery,
    actions: Vec<&'static str>,
    events: Vec<EventRow>,
    next: Option<String>,
    error: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<(AuditFilter, Option<PageCursor>), String> {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let subject = |name: &str, s: &str| {
            text(s)
                .map(|s| parse_subject_filter(s).map_err(|e| format!("{name} {}.", e.reason)))
                .transpose()
        };
        let time = |name: &str, s: &str| {
            text(s)
                .map(|s| {
                    Timestamp::parse_rfc3339(&s)
                        .map_err(|_| format!("{name} must be a time like 2026-12-01T00:00:00Z."))
                })
                .transpose()
        };
        let action = text(&self.action)
            .map(|a| {
                a.parse::<Action>()
                    .map(|a| a.as_str().to_owned())
                    .map_err(|_| "Unknown action.".to_owned())
            })
            .transpose()?;
        let cursor = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| PageCursor::parse(c).map_err(|_| "That page link is not valid.".to_owned()))
            .transpose()?;
        Ok((
            AuditFilter {
                actor_id: subject("Actor", &self.actor)?,
                action,
                target_id: subject("Target", &self.target)?,
                since: time("From", &self.since)?,
                until: time("Until", &self.until)?,
                newest_first: true,
            },
            cursor,
        ))
    }

    fn next_page(&self, cursor: &PageCursor) -> String {
        serde_urlencoded::to_string([
            ("actor", self.actor.as_str()),
            ("target", self.target.as_str()),
            ("action", self.action.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
            ("cursor", cursor.encode().as_str()),
        ])
        .unwrap_or_default()
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(tenant): Path<TenantId>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, UiError> {
    console.require_admin(tenant)?;
    let (events, next, error) = match query.filter() {
        Ok((filter, after)) => {
            let page = PageRequest {
                limit: PageLimit::new(50).unwrap_or_default(),
                after,
            };
            let events = state
                .directory
                .list_audit_events(&console.caller, tenant, &filter, page)
                .await?;
            let next = events.next.map(|c| query.next_page(&c));
            (
                events.items.into_iter().map(EventRow::from).collect(),
                next,
                None,
            )
        }
        Err(error) => (vec![], None, Some(error)),
    };
    render(&AuditPage {
        chrome: Chrome::of(&console, Some(tenant), "audit"),
        tenant,
        query,
        actions: Action::ALL.iter().map(|a| a.as_str()).collect(),
        events,
        next,
        error,
    })
}
