use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{
    AuditEvent, AuditEventId, TenantId, Timestamp, Violations, parse_subject_filter,
};
use crate::http::AppState;
use crate::store::AuditFilter;

use super::error::{ApiError, Problem};
use super::extract::{Auth, Path, Query};
use super::{ListBody, page_request};

/// One entry of the audit log. It never holds a secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventBody {
    id: AuditEventId,
    occurred_at: Timestamp,
    actor: ActorBody,
    /// What was done, such as `user.create` or `auth.login`.
    action: String,
    target: TargetBody,
    client: ClientBody,
    /// What changed (field names), or a sign-in's outcome.
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

/// Who did it: `operator`, `cli`, `api_key`, `user` or `anonymous` (a sign-in attempt).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorBody {
    kind: &'static str,
    id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetBody {
    kind: String,
    id: String,
}

/// Where the request came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientBody {
    address: Option<String>,
    user_agent: Option<String>,
}

impl ActorBody {
    pub(super) fn of(actor: crate::domain::Actor) -> Self {
        Self {
            kind: actor.kind(),
            id: actor.id(),
        }
    }
}

impl From<AuditEvent> for AuditEventBody {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            occurred_at: event.occurred_at,
            actor: ActorBody::of(event.actor),
            action: event.action.as_str().to_owned(),
            target: TargetBody {
                kind: event.target_kind.as_str().to_owned(),
                id: event.target_id,
            },
            client: ClientBody {
                address: event.client.address,
                user_agent: event.client.user_agent,
            },
            details: event.details,
        }
    }
}

/// Which events to list; every filter given must hold.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// The actor's id (an API key's or a user's).
    actor: Option<String>,
    /// The action, such as `user.update`.
    action: Option<String>,
    /// The target's id (a user's or group's id, or the email a failed sign-in named).
    target: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
    /// `asc` (oldest first, the default) or `desc` (newest first; the cursor then
    /// pages back in time).
    #[param(value_type = Option<AuditOrder>, inline)]
    order: Option<String>,
}

/// The order of the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOrder {
    Asc,
    Desc,
}

/// List the tenant's audit log, oldest first unless `order=desc` (operator and admins).
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/audit-events", tag = "audit", operation_id = "listAuditEvents",
    params(("tenantId" = TenantId, Path), AuditParams),
    responses(
        (status = 200, body = ListBody<AuditEventBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<AuditParams>,
) -> Result<axum::Json<ListBody<AuditEventBody>>, ApiError> {
    let mut v = Violations::new();
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref(), &mut v);
    let action = v.check_opt(
        "action",
        params.action.as_deref().map(|a| {
            a.parse::<crate::domain::Action>()
                .map(|a| a.as_str().to_owned())
        }),
    );
    let order = v.check_opt(
        "order",
        params.order.as_deref().map(|o| match o {
            "asc" => Ok(AuditOrder::Asc),
            "desc" => Ok(AuditOrder::Desc),
            _ => Err(crate::domain::Invalid::new("must be one of: asc, desc")),
        }),
    );
    let filter = AuditFilter {
        actor_id: v.check_opt("actor", params.actor.map(parse_subject_filter)),
        action,
        target_id: v.check_opt("target", params.target.map(parse_subject_filter)),
        since: v.check_opt(
            "since",
            params.since.as_deref().map(Timestamp::parse_rfc3339),
        ),
        until: v.check_opt(
            "until",
            params.until.as_deref().map(Timestamp::parse_rfc3339),
        ),
        newest_first: order == Some(AuditOrder::Desc),
    };
    v.finish().map_err(ApiError::Query)?;
    let events = state
        .directory
        .list_audit_events(&caller, tenant, &filter, page)
        .await?;
    Ok(axum::Json(ListBody::from_page(
        events,
        AuditEventBody::from,
    )))
}
