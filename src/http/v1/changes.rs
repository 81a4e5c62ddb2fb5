use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{FeedEvent, Invalid, Member, TenantId, Timestamp, Violations};
use crate::http::{AppState, Deadline};
use crate::service::{MAX_FEED_LIMIT, MAX_FEED_WAIT, ServiceError};

use super::audit::ActorBody;
use super::error::{ApiError, Problem};
use super::extract::{Auth, Path, Query};

/// Events a read answers unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;

/// How long before the request's own time limit a wait gives up, to answer in time.
const ANSWER_MARGIN: Duration = Duration::from_secs(1);

/// A read of the change feed. A parameter it does not know is refused: a consumer's
/// misspelt `after` must not silently read from the start.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// The `nextCursor` of the previous read: the events committed after it. Absent:
    /// from the oldest event kept.
    after: Option<String>,
    /// Events per read, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Seconds to wait for an event when there is none after `after` yet, 0 (the
    /// default) to 60; the read answers as soon as one is committed. Capped below
    /// the server's request time limit.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 60)]
    wait: Option<String>,
}

/// Committed changes of the tenant, in the order they committed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangesBody {
    events: Vec<ChangeEventBody>,
    /// Pass as `after` to read on: the last event's position, or `after` again when
    /// there was none. Store it once the events are handled; no event comes twice
    /// and none is missed.
    next_cursor: String,
    /// The position of the tenant's latest change: where a consumer that copies the
    /// directory first starts to follow it.
    last_position: String,
}

/// One committed change (as the feed answers it and webhooks deliver it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEventBody {
    /// The event's place in the tenant's feed, rising in commit order.
    position: String,
    /// The same on every read (and every webhook delivery) of the event.
    id: uuid::Uuid,
    /// `user.created`, `user.updated`, `user.deleted`, `group.created`,
    /// `group.updated`, `group.deleted`, `group.member_added`, `group.member_removed`.
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: Timestamp,
    object: ObjectBody,
    /// The attributes the change set: v1 names (`email`, `firstName`, `status`,
    /// `password` …), SCIM names for the profile (`title`, `phoneNumbers`,
    /// `manager` …) and `attributes.NAME` for declared ones. A creation names those
    /// given; deletions and memberships name none.
    changed: Vec<String>,
    /// For `group.member_added` and `group.member_removed`: who joined or left.
    member: Option<ObjectBody>,
    actor: ActorBody,
}

/// A user or a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectBody {
    /// `user` or `group`.
    kind: &'static str,
    id: uuid::Uuid,
    /// Its version after the change (its ETag's); absent once deleted, and on
    /// membership events (a membership has no version of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
}

fn object(member: Member, version: Option<i64>) -> ObjectBody {
    ObjectBody {
        kind: member.kind_name(),
        id: member.id(),
        version,
    }
}

impl From<FeedEvent> for ChangeEventBody {
    fn from(event: FeedEvent) -> Self {
        let change = event.change;
        Self {
            position: event.position.to_string(),
            id: change.id,
            kind: change.change_type.as_str(),
            occurred_at: change.occurred_at,
            object: object(change.object, change.version),
            changed: change.changed,
            member: change.member.map(|m| object(m, None)),
            actor: ActorBody::of(change.actor),
        }
    }
}

fn number<T: std::str::FromStr>(text: &str, reason: &str) -> Result<T, Invalid> {
    text.parse().map_err(|_| Invalid::new(reason))
}

/// Read the tenant's change feed: the changes to its users, groups and memberships
/// committed after `after`, in commit order; with `wait`, a long poll.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/events", tag = "events", operation_id = "listChanges",
    params(("tenantId" = TenantId, Path), ChangesParams),
    responses(
        (status = 200, body = ChangesBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The events after `after` are no longer kept: copy the \
            directory again and follow from `lastPosition`",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Extension(deadline): Extension<Deadline>,
    Query(params): Query<ChangesParams>,
) -> Result<axum::Json<ChangesBody>, ApiError> {
    let mut v = Violations::new();
    let after = v.check_opt(
        "after",
        (params.after.as_deref()).map(|a| {
            number::<i64>(a, "must be a cursor this feed answered").and_then(|a| {
                (a >= 0)
                    .then_some(a)
                    .ok_or(Invalid::new("must not be negative"))
            })
        }),
    );
    let limit = v.check_opt(
        "limit",
        (params.limit.as_deref()).map(|l| {
            number::<u32>(l, "must be a whole number").and_then(|l| {
                (1..=MAX_FEED_LIMIT)
                    .contains(&l)
                    .then_some(l)
                    .ok_or(Invalid::new(format!("must be 1 to {MAX_FEED_LIMIT}")))
            })
        }),
    );
    let most = MAX_FEED_WAIT.as_secs();
    let wait = v.check_opt(
        "wait",
        (params.wait.as_deref()).map(|w| {
            number::<u64>(w, "must be a whole number of seconds").and_then(|w| {
                (w <= most)
                    .then_some(w)
                    .ok_or(Invalid::new(format!("must be 0 to {most}")))
            })
        }),
    );
    v.finish().map_err(ApiError::Query)?;
    let wait =
        Duration::from_secs(wait.unwrap_or(0)).min(deadline.left().saturating_sub(ANSWER_MARGIN));
    let page = state
        .directory
        .changes(&caller, tenant, after, limit.unwrap_or(DEFAULT_LIMIT), wait)
        .await
        .map_err(|error| match error {
            ServiceError::Invalid(violations) => ApiError::Query(violations),
            other => ApiError::Service(other),
        })?;
    let next = page.events.last().map_or(page.after, |e| e.position);
    Ok(axum::Json(ChangesBody {
        events: page.events.into_iter().map(ChangeEventBody::from).collect(),
        next_cursor: next.to_string(),
        last_position: page.last_position.to_string(),
    }))
}
