//! Webhook subscriptions (`webhooks`) and their attempts (`webhook_attempts`).
//!
//! A subscription's queue is the tenant's change feed after its `delivered_through`.
//! An instance delivers it while it holds its lease: [`Store::claim_webhooks`] takes
//! those that are due and not leased (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so that
//! instances claiming at once take different ones; SQLite's one writer claims one
//! after another), and every step of the delivery checks that the lease is still
//! this instance's before it moves anything.

use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{
    PageRequest, TenantId, Timestamp, Webhook, WebhookAttempt, WebhookUrl, parse_event_types,
};

use super::changes::push_rows;
use super::{Store, StoreError, StoreResult, Tx, TxInner, read, write};

const WEBHOOK_COLUMNS: &str = "tenant_id, id, url, event_types, enabled, disabled_reason, \
    delivered_through, failing_since, failures, next_attempt_at, version, created_at, updated_at";

#[derive(FromRow)]
struct WebhookRow {
    tenant_id: Uuid,
    id: Uuid,
    url: String,
    event_types: Json<Vec<String>>,
    enabled: bool,
    disabled_reason: Option<String>,
    delivered_through: i64,
    failing_since: Option<Timestamp>,
    failures: i64,
    next_attempt_at: Timestamp,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("webhooks.{what} of {}", row.id));
        Ok(Webhook {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            url: WebhookUrl::parse(&row.url).map_err(|_| corrupt("url"))?,
            event_types: parse_event_types(&row.event_types.0)
                .map_err(|_| corrupt("event_types"))?,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            delivered_through: row.delivered_through,
            failing_since: row.failing_since,
            failures: row.failures,
            next_attempt_at: row.next_attempt_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn type_names(webhook: &Webhook) -> Json<Vec<&'static str>> {
    Json(webhook.event_types.iter().map(|t| t.as_str()).collect())
}

/// The secrets a delivery is signed with: the current one, and the previous one
/// while a rotation's overlap lasts.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub current: String,
    pub previous: Option<String>,
}

/// A subscription claimed for delivery, with its secrets.
#[derive(Debug, Clone)]
pub struct ClaimedWebhook {
    pub webhook: Webhook,
    pub secrets: WebhookSecrets,
}

#[derive(FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    webhook: WebhookRow,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<Timestamp>,
}

/// What an attempt leaves of its subscription.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// Delivered: the subscription has delivered through this position (events
    /// passed over before it included), and its failures end.
    Delivered { through: i64 },
    /// Failed: delivered through `through` (the attempts before the failed one),
    /// the failed event tried again at `retry_at`, or, with `disable`, no more (the
    /// reason).
    Failed {
        through: i64,
        failing_since: Timestamp,
        retry_at: Timestamp,
        disable: Option<String>,
    },
}

#[derive(FromRow)]
struct AttemptRow {
    tenant_id: Uuid,
    webhook_id: Uuid,
    id: Uuid,
    position: i64,
    event_id: Uuid,
    attempted_at: Timestamp,
    status: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(row: AttemptRow) -> Self {
        WebhookAttempt {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            webhook_id: row.webhook_id,
            position: row.position,
            event_id: row.event_id,
            attempted_at: row.attempted_at,
            status: row.status.and_then(|s| u16::try_from(s).ok()),
            latency_ms: row.latency_ms,
            error: row.error,
        }
    }
}

impl Store {
    pub async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Webhook>> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2");
        let row: Option<WebhookRow> = read!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id)
                .fetch_optional(conn)
                .await?
        });
        row.map(Webhook::try_from).transpose()
    }

    /// Up to `page.limit + 1` of the tenant's subscriptions in id order.
    pub async fn list_webhooks(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> StoreResult<Vec<Webhook>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks \
             WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<WebhookRow> = read!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(page.after.map_or(Uuid::nil(), |a| a.last_id()))
                .bind(i64::from(page.limit.get()) + 1)
                .fetch_all(conn)
                .await?
        });
        rows.into_iter().map(Webhook::try_from).collect()
    }

    /// Up to `page.limit + 1` of the subscription's attempts, newest first.
    pub async fn list_webhook_attempts(
        &self,
        tenant: TenantId,
        webhook: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        let rows: Vec<AttemptRow> = read!(self, |conn| {
            sqlx::query_as(
                "SELECT tenant_id, webhook_id, id, position, event_id, attempted_at, status, \
                 latency_ms, error FROM webhook_attempts \
                 WHERE tenant_id = $1 AND webhook_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
            )
            .bind(tenant.as_uuid())
            .bind(webhook)
            .bind(page.after.map_or(Uuid::max(), |a| a.last_id()))
            .bind(i64::from(page.limit.get()) + 1)
            .fetch_all(conn)
            .await?
        });
        Ok(rows.into_iter().map(WebhookAttempt::from).collect())
    }

    /// Leases to `owner` until `until` up to `limit` enabled subscriptions that are
    /// due at `now`, not leased, and have events after their position.
    pub async fn claim_webhooks(
        &self,
        owner: Uuid,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedWebhook>> {
        const DUE: &str = "FROM webhooks w JOIN change_heads h ON h.tenant_id = w.tenant_id \
             WHERE w.enabled AND w.next_attempt_at <= $1 \
             AND (w.leased_until IS NULL OR w.leased_until < $1) \
             AND h.last_position > w.delivered_through";
        // Looked for on a reader first: most looks find nothing, and a write
        // transaction each time would queue behind SQLite's one writer.
        let any: bool = read!(self, |conn| {
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {DUE})"))
                .bind(now)
                .fetch_one(conn)
                .await?
        });
        if !any {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let lock = match tx.inner {
            TxInner::Sqlite(..) => "",
            TxInner::Postgres(_) => " FOR UPDATE OF w SKIP LOCKED",
        };
        let due =
            format!("SELECT w.tenant_id, w.id {DUE} ORDER BY w.next_attempt_at LIMIT $2{lock}");
        let due: Vec<(Uuid, Uuid)> = write!(tx, |conn| {
            sqlx::query_as(&due)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?
        });
        let mut claimed = Vec::with_capacity(due.len());
        for (tenant, id) in due {
            let sql = format!(
                "UPDATE webhooks SET lease_owner = $3, leased_until = $4 \
                 WHERE tenant_id = $1 AND id = $2 \
                 RETURNING {WEBHOOK_COLUMNS}, secret, previous_secret, previous_secret_until"
            );
            let row: ClaimedRow = write!(tx, |conn| {
                sqlx::query_as(&sql)
                    .bind(tenant)
                    .bind(id)
                    .bind(owner)
                    .bind(until)
                    .fetch_one(conn)
                    .await?
            });
            let previous = (row.previous_secret)
                .filter(|_| row.previous_secret_until.is_some_and(|at| now < at));
            claimed.push(ClaimedWebhook {
                webhook: Webhook::try_from(row.webhook)?,
                secrets: WebhookSecrets {
                    current: row.secret,
                    previous,
                },
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records `attempts` (of one subscription, in order) and what the last leaves
    /// of it, if `owner` still holds the lease (renewed until `until` after a
    /// delivery; ended after a failure): answers whether it did.
    pub async fn record_attempts(
        &self,
        owner: Uuid,
        attempts: &[WebhookAttempt],
        outcome: &AttemptOutcome,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let Some(first) = attempts.first() else {
            return Ok(true);
        };
        let mut tx = self.begin().await?;
        let (tenant, id) = (first.tenant_id.as_uuid(), first.webhook_id);
        let held = write!(tx, |conn| {
            let moved = match outcome {
                AttemptOutcome::Delivered { through } => sqlx::query(
                    "UPDATE webhooks SET delivered_through = $4, failing_since = NULL, \
                     failures = 0, leased_until = $5 \
                     WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3 \
                     AND leased_until IS NOT NULL",
                )
                .bind(tenant)
                .bind(id)
                .bind(owner)
                .bind(through)
                .bind(until),
                AttemptOutcome::Failed {
                    through,
                    failing_since,
                    retry_at,
                    disable,
                } => sqlx::query(
                    "UPDATE webhooks SET failing_since = $4, \
                     failures = CASE WHEN delivered_through = $8 THEN failures + 1 ELSE 1 END, \
                     next_attempt_at = $5, enabled = $6, disabled_reason = $7, \
                     delivered_through = $8, leased_until = NULL, lease_owner = NULL \
                     WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3 \
                     AND leased_until IS NOT NULL",
                )
                .bind(tenant)
                .bind(id)
                .bind(owner)
                .bind(*failing_since)
                .bind(*retry_at)
                .bind(disable.is_none())
                .bind(disable.clone())
                .bind(through),
            };
            moved.execute(&mut *conn).await?.rows_affected() == 1
        });
        if held {
            const COLUMNS: usize = 9;
            for chunk in attempts.chunks(tx.rows_per_statement(COLUMNS)) {
                let mut text = String::from(
                    "INSERT INTO webhook_attempts (tenant_id, webhook_id, id, position, \
                     event_id, attempted_at, status, latency_ms, error) VALUES ",
                );
                push_rows(&mut text, chunk.len(), COLUMNS);
                write!(tx, |conn| {
                    let mut query = sqlx::query(&text);
                    for attempt in chunk {
                        query = query
                            .bind(tenant)
                            .bind(id)
                            .bind(attempt.id)
                            .bind(attempt.position)
                            .bind(attempt.event_id)
                            .bind(attempt.attempted_at)
                            .bind(attempt.status.map(i64::from))
                            .bind(attempt.latency_ms)
                            .bind(&attempt.error);
                    }
                    query.execute(conn).await?;
                });
            }
            tx.commit().await?;
        }
        Ok(held)
    }

    /// Moves the subscription past events it does not take, up to `through`, if
    /// `owner` holds its lease (renewed until `until`); answers whether it does.
    pub async fn pass_over(
        &self,
        owner: Uuid,
        tenant: TenantId,
        id: Uuid,
        through: i64,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let held = write!(tx, |conn| {
            sqlx::query(
                "UPDATE webhooks SET delivered_through = $4, leased_until = $5 \
                 WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3 \
                 AND leased_until IS NOT NULL",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(owner)
            .bind(through)
            .bind(until)
            .execute(conn)
            .await?
            .rows_affected()
                == 1
        });
        tx.commit().await?;
        Ok(held)
    }

    /// Ends `owner`'s lease of the subscription.
    pub async fn release_webhook(
        &self,
        owner: Uuid,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        write!(tx, |conn| {
            sqlx::query(
                "UPDATE webhooks SET leased_until = NULL, lease_owner = NULL \
                 WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(owner)
            .execute(conn)
            .await?;
        });
        tx.commit().await
    }

    /// The lowest position an enabled subscription of the tenant has yet to deliver
    /// after, if any: retention keeps the events after it.
    pub(super) async fn oldest_undelivered(&self, tenant: TenantId) -> StoreResult<Option<i64>> {
        Ok(read!(self, |conn| {
            sqlx::query_scalar(
                "SELECT MIN(delivered_through) FROM webhooks WHERE tenant_id = $1 AND enabled",
            )
            .bind(tenant.as_uuid())
            .fetch_one(conn)
            .await?
        }))
    }

    /// Removes the attempts made before `cutoff`; answers how many.
    pub async fn prune_webhook_attempts(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let removed = write!(tx, |conn| {
            sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
                .bind(cutoff)
                .execute(conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        Ok(removed)
    }
}

impl Tx {
    pub async fn insert_webhook(&mut self, webhook: &Webhook, secret: &str) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO webhooks (tenant_id, id, url, event_types, enabled, \
                 disabled_reason, secret, delivered_through, failures, next_attempt_at, \
                 version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(webhook.tenant_id.as_uuid())
            .bind(webhook.id)
            .bind(webhook.url.as_str())
            .bind(type_names(webhook))
            .bind(webhook.enabled)
            .bind(&webhook.disabled_reason)
            .bind(secret)
            .bind(webhook.delivered_through)
            .bind(webhook.failures)
            .bind(webhook.next_attempt_at)
            .bind(webhook.version)
            .bind(webhook.created_at)
            .bind(webhook.updated_at)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    pub async fn lock_webhook(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<Webhook>> {
        let lock = match self.inner {
            TxInner::Sqlite(..) => "",
            TxInner::Postgres(_) => " FOR UPDATE",
        };
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2{lock}"
        );
        let row: Option<WebhookRow> = write!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id)
                .fetch_optional(conn)
                .await?
        });
        row.map(Webhook::try_from).transpose()
    }

    /// Stores `webhook`'s settings and delivery state. A delivery under way loses its
    /// lease, so that the next one starts from what is stored here.
    pub async fn update_webhook(&mut self, webhook: &Webhook) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE webhooks SET url = $3, event_types = $4, enabled = $5, \
                 disabled_reason = $6, delivered_through = $7, failing_since = $8, \
                 failures = $9, next_attempt_at = $10, version = $11, updated_at = $12, \
                 lease_owner = NULL, leased_until = NULL \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(webhook.tenant_id.as_uuid())
            .bind(webhook.id)
            .bind(webhook.url.as_str())
            .bind(type_names(webhook))
            .bind(webhook.enabled)
            .bind(&webhook.disabled_reason)
            .bind(webhook.delivered_through)
            .bind(webhook.failing_since)
            .bind(webhook.failures)
            .bind(webhook.next_attempt_at)
            .bind(webhook.version)
            .bind(webhook.updated_at)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    /// Makes `secret` the subscription's, the current one signing as well until
    /// `overlap_until`.
    pub async fn rotate_webhook_secret(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        secret: &str,
        overlap_until: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "UPDATE webhooks SET previous_secret = secret, previous_secret_until = $4, \
                 secret = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(secret)
            .bind(overlap_until)
            .execute(conn)
            .await?;
        });
        Ok(())
    }

    pub async fn delete_webhook(&mut self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        Ok(write!(self, |conn| {
            sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_uuid())
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected()
                == 1
        }))
    }
}
