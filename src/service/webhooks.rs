//! Webhook subscriptions as tenant admins manage them, and the steps of their
//! delivery that the dispatcher (`crate::webhooks`) takes through the directory.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::{
    Action, NewWebhook, Page, PageRequest, TargetKind, TenantId, Timestamp, Webhook,
    WebhookAttempt, WebhookPatch,
};
use crate::store::{AttemptOutcome, ClaimedWebhook, FeedPage};

use super::{Access, Directory, Resource, ServiceError, ServiceResult, audit};

/// How long a rotated-out secret still signs deliveries beside the new one, so that
/// receivers can switch without refusing one.
pub const SECRET_OVERLAP_SECONDS: i64 = 24 * 60 * 60;

/// A subscription just made or given a new secret, with the secret shown this once.
#[derive(Debug)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    pub secret: SecretString,
}

/// A new signing secret as Standard Webhooks writes one: `whsec_` and 32 random
/// bytes in base64.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

impl Directory {
    /// Subscribes `new.url` to the tenant's changes from now on (admins).
    pub async fn create_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewWebhook,
    ) -> ServiceResult<WebhookWithSecret> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let now = Timestamp::now();
        let head = self.store.changes_after(tenant, i64::MAX, 1).await?;
        let webhook = Webhook {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            url: new.url,
            event_types: new.event_types,
            enabled: new.enabled,
            disabled_reason: None,
            delivered_through: head.last_position,
            failing_since: None,
            failures: 0,
            next_attempt_at: now,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let secret = generate_secret();
        let mut tx = self.store.begin().await?;
        tx.insert_webhook(&webhook, &secret).await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::WebhookCreate,
            (TargetKind::Webhook, webhook.id.to_string()),
            json!({ "url": webhook.url.as_str(), "enabled": webhook.enabled }),
        )
        .await?;
        tx.commit().await?;
        Ok(WebhookWithSecret {
            webhook,
            secret: SecretString::from(secret),
        })
    }

    pub async fn get_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
    ) -> ServiceResult<Webhook> {
        self.authorize(caller, tenant, Access::Administer).await?;
        (self.store.get_webhook(tenant, id).await?).ok_or(ServiceError::NotFound(Resource::Webhook))
    }

    pub async fn list_webhooks(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> ServiceResult<Page<Webhook>> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let rows = self.store.list_webhooks(tenant, page).await?;
        Ok(Page::from_rows(rows, page.limit, |w| w.id))
    }

    /// Changes a subscription; enabling it clears its failures and tries its next
    /// event at once.
    pub async fn update_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
        patch: WebhookPatch,
    ) -> ServiceResult<Webhook> {
        self.change_webhook(caller, tenant, id, Action::WebhookUpdate, |webhook, now| {
            let mut fields = Vec::new();
            if let Some(url) = patch.url.filter(|url| *url != webhook.url) {
                webhook.url = url;
                fields.push("url");
            }
            if let Some(types) = patch.event_types.filter(|t| *t != webhook.event_types) {
                webhook.event_types = types;
                fields.push("eventTypes");
            }
            match patch.enabled {
                Some(true) if !webhook.enabled => {
                    webhook.enabled = true;
                    resume(webhook, now);
                    fields.push("enabled");
                }
                Some(false) if webhook.enabled => {
                    webhook.enabled = false;
                    fields.push("enabled");
                }
                _ => {}
            }
            Ok(fields)
        })
        .await
    }

    /// Sends the subscription's events after the feed position `after` again, in
    /// order, and enables it when it is not.
    pub async fn redeliver_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
        after: i64,
    ) -> ServiceResult<Webhook> {
        let feed = self.store.changes_after(tenant, i64::MAX, 1).await?;
        if after < feed.pruned_through || after > feed.last_position {
            return Err(ServiceError::invalid(
                "after",
                format!(
                    "must be a position the feed keeps events after: {} to {}",
                    feed.pruned_through, feed.last_position
                ),
            ));
        }
        self.change_webhook(
            caller,
            tenant,
            id,
            Action::WebhookRedeliver,
            |webhook, now| {
                webhook.delivered_through = after;
                webhook.enabled = true;
                resume(webhook, now);
                Ok(vec!["deliveredThrough"])
            },
        )
        .await
    }

    /// Applies `change` to the locked subscription and audits it as `action`, naming
    /// the fields it answers; nothing named, nothing written.
    async fn change_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
        action: Action,
        change: impl FnOnce(&mut Webhook, Timestamp) -> ServiceResult<Vec<&'static str>>,
    ) -> ServiceResult<Webhook> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let mut tx = self.store.begin().await?;
        let mut webhook = (tx.lock_webhook(tenant, id).await?)
            .ok_or(ServiceError::NotFound(Resource::Webhook))?;
        let now = Timestamp::now();
        let fields = change(&mut webhook, now)?;
        if fields.is_empty() {
            return Ok(webhook);
        }
        webhook.version += 1;
        webhook.updated_at = now;
        tx.update_webhook(&webhook).await?;
        audit(
            &mut tx,
            caller,
            tenant,
            action,
            (TargetKind::Webhook, id.to_string()),
            json!({ "fields": fields, "deliveredThrough": webhook.delivered_through }),
        )
        .await?;
        tx.commit().await?;
        Ok(webhook)
    }

    /// Gives the subscription a new secret, shown this once; the old one signs as
    /// well for [`SECRET_OVERLAP_SECONDS`].
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
    ) -> ServiceResult<WebhookWithSecret> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let mut tx = self.store.begin().await?;
        let webhook = (tx.lock_webhook(tenant, id).await?)
            .ok_or(ServiceError::NotFound(Resource::Webhook))?;
        let secret = generate_secret();
        let until = Timestamp::now().plus_seconds(SECRET_OVERLAP_SECONDS);
        tx.rotate_webhook_secret(tenant, id, &secret, until).await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::WebhookSecretRotate,
            (TargetKind::Webhook, id.to_string()),
            json!({ "previousSignsUntil": until.to_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(WebhookWithSecret {
            webhook,
            secret: SecretString::from(secret),
        })
    }

    pub async fn delete_webhook(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Administer).await?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_webhook(tenant, id).await? {
            return Err(ServiceError::NotFound(Resource::Webhook));
        }
        audit(
            &mut tx,
            caller,
            tenant,
            Action::WebhookDelete,
            (TargetKind::Webhook, id.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The subscription's delivery log, newest first.
    pub async fn list_webhook_attempts(
        &self,
        caller: &Caller,
        tenant: TenantId,
        id: Uuid,
        page: PageRequest,
    ) -> ServiceResult<Page<WebhookAttempt>> {
        self.get_webhook(caller, tenant, id).await?;
        let rows = self.store.list_webhook_attempts(tenant, id, page).await?;
        Ok(Page::from_rows(rows, page.limit, |a| a.id))
    }

    /// Leases to `owner` up to `limit` subscriptions with events to deliver, until
    /// `until` (the dispatcher's first step).
    pub async fn claim_webhooks(
        &self,
        owner: Uuid,
        until: Timestamp,
        limit: u32,
    ) -> ServiceResult<Vec<ClaimedWebhook>> {
        let now = Timestamp::now();
        Ok(self.store.claim_webhooks(owner, now, until, limit).await?)
    }

    /// The next events of a claimed subscription's tenant after `after`.
    pub async fn webhook_events(
        &self,
        tenant: TenantId,
        after: i64,
        limit: u32,
    ) -> ServiceResult<FeedPage> {
        Ok(self.store.changes_after(tenant, after, limit).await?)
    }

    /// Records attempts of one subscription and what the last leaves of it, while
    /// `owner` holds the lease; answers whether it still did.
    pub async fn record_webhook_attempts(
        &self,
        owner: Uuid,
        attempts: &[WebhookAttempt],
        outcome: &AttemptOutcome,
        until: Timestamp,
    ) -> ServiceResult<bool> {
        Ok((self.store)
            .record_attempts(owner, attempts, outcome, until)
            .await?)
    }

    /// Moves a claimed subscription past events it does not take.
    pub async fn pass_over_webhook_events(
        &self,
        owner: Uuid,
        webhook: &Webhook,
        through: i64,
        until: Timestamp,
    ) -> ServiceResult<bool> {
        let (tenant, id) = (webhook.tenant_id, webhook.id);
        Ok(self
            .store
            .pass_over(owner, tenant, id, through, until)
            .await?)
    }

    pub async fn release_webhook(&self, owner: Uuid, webhook: &Webhook) -> ServiceResult<()> {
        let (tenant, id) = (webhook.tenant_id, webhook.id);
        Ok(self.store.release_webhook(owner, tenant, id).await?)
    }

    /// Marks each commit of this instance that recorded changes, for the dispatcher.
    pub fn changes_committed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.changes_committed()
    }
}

/// A subscription enabled again: its failures forgotten, its next event due now.
fn resume(webhook: &mut Webhook, now: Timestamp) {
    webhook.disabled_reason = None;
    webhook.failing_since = None;
    webhook.failures = 0;
    webhook.next_attempt_at = now;
}
