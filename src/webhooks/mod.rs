//! Delivering webhooks: the dispatcher each instance runs claims subscriptions with
//! events to deliver (an expiring lease, so that one instance at a time delivers a
//! subscription, in feed order), posts each event signed the way Standard Webhooks
//! says, and moves the subscription on once the receiver answers 2xx. A failed
//! delivery is tried again with exponential backoff and jitter; a subscription
//! whose deliveries failed throughout the retry period is disabled, the reason kept.
//!
//! Delivery is at least once: an instance that dies mid-delivery loses nothing (its
//! lease expires and another instance delivers from the last event recorded), and
//! the receiver may see an event twice, with the same `webhook-id`.

mod guard;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::domain::{FeedEvent, Timestamp, Webhook, WebhookAttempt};
use crate::service::{Directory, ServiceResult};
use crate::store::{AttemptOutcome, ClaimedWebhook, WebhookSecrets};

pub use guard::AllowedNetworks;

/// How deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Private, loopback and link-local networks deliveries may reach nonetheless.
    pub allowed_networks: AllowedNetworks,
    /// The longest a connection to a receiver may take to open.
    pub connect_timeout: Duration,
    /// The longest a delivery may take, the receiver's answer included.
    pub timeout: Duration,
    /// The wait before the first retry of a failed event; each retry waits twice the
    /// one before (with jitter), up to `longest_retry`.
    pub first_retry: Duration,
    pub longest_retry: Duration,
    /// A subscription whose next event has failed this long is disabled.
    pub give_up_after: Duration,
    /// How long a claimed subscription stays this instance's without a step taken.
    pub lease: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allowed_networks: AllowedNetworks::default(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            first_retry: Duration::from_secs(5),
            longest_retry: Duration::from_secs(60 * 60),
            give_up_after: Duration::from_secs(24 * 60 * 60),
            lease: Duration::from_secs(60),
        }
    }
}

/// Subscriptions delivered at once by one instance.
const IN_FLIGHT: usize = 16;

/// How often the dispatcher looks for due subscriptions when nothing woke it: a
/// retry that came due, or a change committed by another instance.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// How long the dispatcher waits after a commit woke it, so that a burst of commits
/// costs one look, not one each.
const COALESCE: Duration = Duration::from_millis(50);

/// A claimed subscription's deliveries are recorded at least every this many...
const RECORD_EVERY: usize = 100;

/// ...and at least this often.
const RECORD_WITHIN: Duration = Duration::from_millis(500);

/// Where a claimed subscription's delivery stands.
struct Run {
    /// The position delivered (or passed over) through.
    through: i64,
    /// The position last recorded.
    recorded: i64,
    failing_since: Option<Timestamp>,
    failures: i64,
    /// The deliveries not yet recorded.
    delivered: Vec<WebhookAttempt>,
    recorded_at: Instant,
}

/// Events read from the feed at a time for one subscription.
const EVENTS_AT_ONCE: u32 = 100;

/// The most of a receiver's answer read (then the connection is dropped).
const MOST_ANSWER_BYTES: usize = 64 * 1024;

/// The dispatcher of one instance.
#[derive(Clone)]
struct Dispatcher {
    directory: Directory,
    settings: WebhookSettings,
    client: reqwest::Client,
    /// This instance, as the leases name it.
    owner: Uuid,
    stop: watch::Receiver<bool>,
}

/// Delivers webhooks until `stop` turns true; then claims nothing more, lets the
/// deliveries under way finish (each bounded by the timeout) and returns.
pub async fn run(directory: Directory, settings: WebhookSettings, stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(std::sync::Arc::new(guard::GuardedResolver {
            allowed: settings.allowed_networks.clone(),
        }))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make the webhook client: no webhook is delivered");
            return;
        }
    };
    let dispatcher = Dispatcher {
        directory,
        settings,
        client,
        owner: Uuid::now_v7(),
        stop,
    };
    dispatcher.dispatch().await;
}

impl Dispatcher {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn lease_end(&self) -> Timestamp {
        Timestamp::now().plus_seconds(self.settings.lease.as_secs() as i64)
    }

    async fn dispatch(&self) {
        let mut committed = self.directory.changes_committed();
        let mut stop = self.stop.clone();
        let mut deliveries = JoinSet::new();
        while !self.stopping() {
            let free = IN_FLIGHT - deliveries.len();
            if free > 0 {
                match (self.directory)
                    .claim_webhooks(self.owner, self.lease_end(), free as u32)
                    .await
                {
                    Ok(claimed) => {
                        for claimed in claimed {
                            let dispatcher = self.clone();
                            deliveries.spawn(async move { dispatcher.deliver(claimed).await });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot claim webhooks to deliver"),
                }
            }
            tokio::select! {
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
                _ = committed.changed() => {
                    // The commits of the next moments are looked for together.
                    tokio::time::sleep(COALESCE).await;
                    committed.borrow_and_update();
                }
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
        while deliveries.join_next().await.is_some() {}
    }

    /// Delivers the claimed subscription's events in order until it is caught up, an
    /// event fails, the lease is lost or the instance stops.
    async fn deliver(&self, claimed: ClaimedWebhook) {
        let ClaimedWebhook { webhook, secrets } = claimed;
        match self.deliver_events(&webhook, &secrets).await {
            Ok(true) => {
                if let Err(error) = self.directory.release_webhook(self.owner, &webhook).await {
                    tracing::warn!(%error, webhook_id = %webhook.id, "cannot release a webhook");
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, webhook_id = %webhook.id, "a webhook delivery stopped");
            }
        }
    }

    /// Answers whether the lease is still held (to be released). Deliveries are
    /// recorded together, every [`RECORD_EVERY`] events or [`RECORD_WITHIN`], and at
    /// once when one fails: a dispatcher that dies between sends the unrecorded
    /// events again.
    async fn deliver_events(
        &self,
        webhook: &Webhook,
        secrets: &WebhookSecrets,
    ) -> ServiceResult<bool> {
        let mut run = Run {
            through: webhook.delivered_through,
            recorded: webhook.delivered_through,
            failing_since: webhook.failing_since,
            failures: webhook.failures,
            delivered: Vec::new(),
            recorded_at: Instant::now(),
        };
        loop {
            if self.stopping() {
                return self.record(webhook, &mut run).await;
            }
            let page = (self.directory)
                .webhook_events(webhook.tenant_id, run.through, EVENTS_AT_ONCE)
                .await?;
            let Some(last) = page.events.last().map(|e| e.position) else {
                return self.record(webhook, &mut run).await;
            };
            for event in page.events {
                if !webhook.wants(event.change.change_type) {
                    continue;
                }
                if self.stopping() {
                    return self.record(webhook, &mut run).await;
                }
                let attempt = self.attempt(webhook, secrets, &event).await;
                if !attempt.succeeded() {
                    let outcome = self.failure(&run, &attempt);
                    run.delivered.push(attempt);
                    let held = (self.directory)
                        .record_webhook_attempts(
                            self.owner,
                            &run.delivered,
                            &outcome,
                            self.lease_end(),
                        )
                        .await?;
                    if let AttemptOutcome::Failed {
                        disable: Some(reason),
                        ..
                    } = &outcome
                        && held
                    {
                        tracing::warn!(webhook_id = %webhook.id, reason, "webhook disabled");
                    }
                    return Ok(false);
                }
                run.through = event.position;
                run.failing_since = None;
                run.failures = 0;
                run.delivered.push(attempt);
                if (run.delivered.len() >= RECORD_EVERY
                    || run.recorded_at.elapsed() >= RECORD_WITHIN)
                    && !self.record(webhook, &mut run).await?
                {
                    return Ok(false);
                }
            }
            // The events after the last one taken are not of the types asked for.
            run.through = last;
        }
    }

    /// Records the run's deliveries since the last record, and the position it has
    /// reached; answers whether the lease is still held.
    async fn record(&self, webhook: &Webhook, run: &mut Run) -> ServiceResult<bool> {
        if run.through <= run.recorded && run.delivered.is_empty() {
            return Ok(true);
        }
        let outcome = AttemptOutcome::Delivered {
            through: run.through,
        };
        let held = match run.delivered.is_empty() {
            true => {
                (self.directory)
                    .pass_over_webhook_events(self.owner, webhook, run.through, self.lease_end())
                    .await?
            }
            false => {
                (self.directory)
                    .record_webhook_attempts(self.owner, &run.delivered, &outcome, self.lease_end())
                    .await?
            }
        };
        run.delivered.clear();
        run.recorded = run.through;
        run.recorded_at = Instant::now();
        Ok(held)
    }

    /// What a failed attempt leaves: the next try after a backoff that doubles with
    /// each failure (half of it random), or, past the retry period, no more.
    fn failure(&self, run: &Run, attempt: &WebhookAttempt) -> AttemptOutcome {
        let now = attempt.attempted_at;
        let failing_since = run.failing_since.unwrap_or(now);
        let doublings = u32::try_from(run.failures.clamp(0, 20)).unwrap_or(20);
        let backoff = (self.settings.first_retry)
            .saturating_mul(1 << doublings)
            .min(self.settings.longest_retry);
        let jittered = backoff.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        let retry_at = Timestamp::from_millis(now.millis() + jittered.as_millis() as i64);
        let failed_for =
            Duration::from_millis((now.millis() - failing_since.millis()).max(0) as u64);
        let disable = (failed_for >= self.settings.give_up_after).then(|| {
            format!(
                "every delivery failed for {} s; the last: {}",
                failed_for.as_secs(),
                attempt.error.as_deref().unwrap_or("no answer"),
            )
        });
        AttemptOutcome::Failed {
            through: run.through,
            failing_since,
            retry_at,
            disable,
        }
    }

    /// Posts one event to the subscription's URL and answers how it went.
    async fn attempt(
        &self,
        webhook: &Webhook,
        secrets: &WebhookSecrets,
        event: &FeedEvent,
    ) -> WebhookAttempt {
        let attempted_at = Timestamp::now();
        let started = Instant::now();
        let (status, error) = match self.post(webhook, secrets, event).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (
                Some(status),
                Some(format!("the receiver answered {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        WebhookAttempt {
            id: Uuid::now_v7(),
            tenant_id: webhook.tenant_id,
            webhook_id: webhook.id,
            position: event.position,
            event_id: event.change.id,
            attempted_at,
            status,
            latency_ms: started.elapsed().as_millis() as i64,
            error,
        }
    }

    async fn post(
        &self,
        webhook: &Webhook,
        secrets: &WebhookSecrets,
        event: &FeedEvent,
    ) -> Result<u16, String> {
        let url = webhook.url.url();
        // A name is checked as it is resolved (guard.rs); an address, here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.settings.allowed_networks.allows(ip)) {
            return Err("the destination's address is one deliveries may not reach".into());
        }
        let body = payload(event);
        let id = event.change.id.to_string();
        let timestamp = Timestamp::now().millis() / 1000;
        let signature = signature(secrets, &id, timestamp, &body)?;
        let response = (self.client.post(url.clone()))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| describe(&error))?;
        let status = response.status().as_u16();
        // Read a bounded part of the answer, then let the connection go.
        let mut read = 0;
        let mut chunks = response.bytes_stream();
        while let Some(Ok(chunk)) = chunks.next().await {
            read += chunk.len();
            if read >= MOST_ANSWER_BYTES {
                break;
            }
        }
        Ok(status)
    }
}

/// The body of a delivery: Standard Webhooks' `type`, `timestamp` and `data`, the
/// data being the event as the change feed shows it, with its tenant.
fn payload(event: &FeedEvent) -> Vec<u8> {
    let mut data = serde_json::to_value(crate::http::v1::ChangeEventBody::from(event.clone()))
        .unwrap_or_default();
    if let Some(object) = data.as_object_mut() {
        object.insert("tenantId".into(), event.change.tenant_id.to_string().into());
    }
    let body = serde_json::json!({
        "type": event.change.change_type.as_str(),
        "timestamp": event.change.occurred_at,
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under each secret in force, space-separated.
fn signature(
    secrets: &WebhookSecrets,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let mut signatures = Vec::new();
    for secret in std::iter::once(&secrets.current).chain(&secrets.previous) {
        let key = (secret.strip_prefix("whsec_"))
            .and_then(|key| STANDARD.decode(key).ok())
            .ok_or("the subscription's secret is not a whsec_ secret")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        signatures.push(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ));
    }
    Ok(signatures.join(" "))
}

/// Why a request got no answer, its causes included (never the body sent).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "the receiver did not answer in time"
    } else if error.is_connect() {
        "cannot connect to the receiver"
    } else {
        "the delivery failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    match causes.last() {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// implementations (its test vectors).
    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        let secrets = WebhookSecrets {
            current: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            previous: None,
        };
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(&secrets, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            signed.unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one() {
        let secrets = WebhookSecrets {
            current: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            previous: Some("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        };
        let signed = signature(&secrets, "msg", 1, b"{}").unwrap();
        let parts: Vec<&str> = signed.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }
}
