use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    Invalid, NewWebhook, TenantId, Timestamp, Violations, Webhook, WebhookAttempt, WebhookPatch,
    WebhookUrl, parse_event_types,
};
use crate::http::AppState;
use crate::service::{ServiceError, WebhookWithSecret};

use super::error::{ApiError, Problem};
use super::extract::{Auth, Json, Path, Query};
use super::{ListBody, PageParams, invalid};

const PROBLEM: &str = "application/problem+json";

/// A webhook subscription as listed: never with its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    id: Uuid,
    tenant_id: TenantId,
    url: String,
    /// The event types delivered; empty: every type.
    event_types: Vec<&'static str>,
    enabled: bool,
    /// Why Roster disabled the subscription: its deliveries failed throughout the
    /// retry period. Null when enabled, or disabled by an administrator.
    disabled_reason: Option<String>,
    /// The change feed position of the last event delivered (or passed over).
    delivered_through: String,
    /// Since when the next event's delivery has failed, if it has.
    failing_since: Option<Timestamp>,
    /// Failed attempts at the next event.
    failures: i64,
    /// When the next event is tried.
    next_attempt_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Webhook> for WebhookBody {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            tenant_id: webhook.tenant_id,
            url: webhook.url.as_str().to_owned(),
            event_types: webhook.event_types.iter().map(|t| t.as_str()).collect(),
            enabled: webhook.enabled,
            disabled_reason: webhook.disabled_reason,
            delivered_through: webhook.delivered_through.to_string(),
            failing_since: webhook.failing_since,
            failures: webhook.failures,
            next_attempt_at: webhook.next_attempt_at,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

/// A subscription just made, or just given a new secret: the only replies that hold
/// its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecretBody {
    #[serde(flatten)]
    webhook: WebhookBody,
    /// The signing secret (`whsec_` and base64), for the receiver to verify
    /// `webhook-signature` with. Shown here once; store it now.
    secret: String,
}

impl From<WebhookWithSecret> for WebhookWithSecretBody {
    fn from(made: WebhookWithSecret) -> Self {
        Self {
            secret: made.secret.expose_secret().to_owned(),
            webhook: made.webhook.into(),
        }
    }
}

/// A subscription to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookBody {
    /// Where events are posted: an http or https URL. Private, loopback and
    /// link-local addresses are refused at delivery unless the operator allows them.
    #[schema(max_length = 2048, example = "https://hooks.example.com/roster")]
    url: String,
    /// The event types to deliver (`user.created` …); absent or empty: every type.
    #[serde(default)]
    event_types: Vec<String>,
    /// Default true.
    enabled: Option<bool>,
}

/// A change of a subscription: what is given is set. Enabling clears its failures.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookBody {
    #[schema(max_length = 2048, example = "https://hooks.example.com/roster")]
    url: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// Which events to deliver again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeliverBody {
    /// A change feed position: the events after it are delivered again, in order.
    after: String,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAttemptBody {
    id: Uuid,
    /// The event's change feed position, and its id (the delivery's `webhook-id`).
    position: String,
    event_id: Uuid,
    attempted_at: Timestamp,
    /// The receiver's status, when it answered.
    status: Option<u16>,
    latency_ms: i64,
    /// Why the attempt failed; null when the receiver answered 2xx.
    error: Option<String>,
}

impl From<WebhookAttempt> for WebhookAttemptBody {
    fn from(attempt: WebhookAttempt) -> Self {
        Self {
            id: attempt.id,
            position: attempt.position.to_string(),
            event_id: attempt.event_id,
            attempted_at: attempt.attempted_at,
            status: attempt.status,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        }
    }
}

impl CreateWebhookBody {
    fn parse(self) -> Result<NewWebhook, ApiError> {
        let mut v = Violations::new();
        let url = v.check("url", WebhookUrl::parse(&self.url));
        let event_types = v.check("eventTypes", parse_event_types(&self.event_types));
        let (Some(url), Some(event_types)) = (url, event_types) else {
            return Err(invalid(v));
        };
        Ok(NewWebhook {
            url,
            event_types,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

impl UpdateWebhookBody {
    fn parse(self) -> Result<WebhookPatch, ApiError> {
        let mut v = Violations::new();
        let url = v.check_opt("url", self.url.as_deref().map(WebhookUrl::parse));
        let event_types = v.check_opt(
            "eventTypes",
            self.event_types.as_deref().map(parse_event_types),
        );
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(WebhookPatch {
            url,
            event_types,
            enabled: self.enabled,
        })
    }
}

/// List the tenant's webhook subscriptions (admins); never their secrets.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    params(("tenantId" = TenantId, Path), PageParams),
    responses(
        (status = 200, body = ListBody<WebhookBody>),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ListBody<WebhookBody>>, ApiError> {
    let page = params.page()?;
    let webhooks = state.directory.list_webhooks(&caller, tenant, page).await?;
    Ok(axum::Json(ListBody::from_page(webhooks, WebhookBody::from)))
}

/// Subscribe a URL to the tenant's changes from now on (admins). The reply holds the
/// signing secret, once.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/webhooks", tag = "webhooks", operation_id = "createWebhook",
    params(("tenantId" = TenantId, Path)),
    request_body = CreateWebhookBody,
    responses(
        (status = 201, body = WebhookWithSecretBody, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Json(body): Json<CreateWebhookBody>,
) -> Result<impl IntoResponse, ApiError> {
    let made = (state.directory)
        .create_webhook(&caller, tenant, body.parse()?)
        .await?;
    let location = format!("/v1/tenants/{tenant}/webhooks/{}", made.webhook.id);
    Ok((
        StatusCode::CREATED,
        [
            (axum::http::header::LOCATION, location),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::Json(WebhookWithSecretBody::from(made)),
    ))
}

/// Read a webhook subscription (admins), never its secret.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks", operation_id = "getWebhook",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path)),
    responses(
        (status = 200, body = WebhookBody),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
) -> Result<axum::Json<WebhookBody>, ApiError> {
    let webhook = state.directory.get_webhook(&caller, tenant, id).await?;
    Ok(axum::Json(webhook.into()))
}

/// Change a subscription's URL, event types or state (admins). Enabling it clears
/// its failures and tries its next event at once.
#[utoipa::path(
    patch, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks", operation_id = "updateWebhook",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path)),
    request_body = UpdateWebhookBody,
    responses(
        (status = 200, body = WebhookBody),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
    Json(body): Json<UpdateWebhookBody>,
) -> Result<axum::Json<WebhookBody>, ApiError> {
    let patch = body.parse()?;
    let webhook = (state.directory)
        .update_webhook(&caller, tenant, id, patch)
        .await?;
    Ok(axum::Json(webhook.into()))
}

/// Delete a subscription and its delivery log (admins).
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.directory.delete_webhook(&caller, tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a subscription a new signing secret (admins), shown once; the old one signs
/// each delivery as well for 24 hours, so the receiver can switch without refusing one.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path)),
    responses(
        (status = 200, body = WebhookWithSecretBody),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
) -> Result<impl IntoResponse, ApiError> {
    let rotated = (state.directory)
        .rotate_webhook_secret(&caller, tenant, id)
        .await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(WebhookWithSecretBody::from(rotated)),
    ))
}

/// A subscription's delivery log, newest attempt first (admins).
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/attempts", tag = "webhooks", operation_id = "listWebhookAttempts",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path), PageParams),
    responses(
        (status = 200, body = ListBody<WebhookAttemptBody>),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn attempts(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ListBody<WebhookAttemptBody>>, ApiError> {
    let page = params.page()?;
    let attempts = (state.directory)
        .list_webhook_attempts(&caller, tenant, id, page)
        .await?;
    Ok(axum::Json(ListBody::from_page(
        attempts,
        WebhookAttemptBody::from,
    )))
}

/// Deliver the events after a change feed position again, in order (admins); a
/// disabled subscription is enabled.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/webhooks/{webhookId}/redeliver", tag = "webhooks", operation_id = "redeliverWebhook",
    params(("tenantId" = TenantId, Path), ("webhookId" = Uuid, Path)),
    request_body = RedeliverBody,
    responses(
        (status = 200, body = WebhookBody),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, Uuid)>,
    Json(body): Json<RedeliverBody>,
) -> Result<axum::Json<WebhookBody>, ApiError> {
    let after: i64 = (body.after.parse::<i64>().ok())
        .filter(|a| *a >= 0)
        .ok_or_else(|| {
            let mut v = Violations::new();
            v.check::<()>("after", Err(Invalid::new("must be a change feed position")));
            invalid(v)
        })?;
    let webhook = (state.directory)
        .redeliver_webhook(&caller, tenant, id, after)
        .await?;
    Ok(axum::Json(webhook.into()))
}
