//! Webhooks: a tenant's subscriptions to its change feed, each delivered in order to
//! one URL, and the log of the attempts.

use super::{ChangeType, Invalid, TenantId, Timestamp};

/// A subscription as it is stored and listed (never with its signing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub url: WebhookUrl,
    /// The types delivered; empty: every type.
    pub event_types: Vec<ChangeType>,
    pub enabled: bool,
    /// Why the subscription was disabled by Roster (its deliveries failed throughout
    /// the retry period); none when enabled, or disabled by an administrator.
    pub disabled_reason: Option<String>,
    /// The feed position of the last event delivered (or passed over, not being of
    /// the types asked for).
    pub delivered_through: i64,
    /// Since when the delivery of the next event has failed, if it has.
    pub failing_since: Option<Timestamp>,
    /// The failed attempts at the next event.
    pub failures: i64,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    /// Whether an event of `change_type` goes to this subscription.
    pub fn wants(&self, change_type: ChangeType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&change_type)
    }
}

/// Where deliveries go: an absolute `http` or `https` URL without credentials or
/// fragment. Whether its host may be reached is decided when a delivery is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() > 2048 {
            return Err(Invalid::new("must be at most 2048 characters long"));
        }
        let url = url::Url::parse(text).map_err(|e| Invalid::new(format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Invalid::new("must be an http or https URL"));
        }
        if url.host().is_none() {
            return Err(Invalid::new("must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Invalid::new("must not hold credentials"));
        }
        if url.fragment().is_some() {
            return Err(Invalid::new("must not have a fragment"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

/// The types a subscription asks for: each a known type, none twice.
pub fn parse_event_types(types: &[String]) -> Result<Vec<ChangeType>, Invalid> {
    let mut parsed: Vec<ChangeType> = Vec::with_capacity(types.len());
    for text in types {
        let kind: ChangeType = text.parse()?;
        if !parsed.contains(&kind) {
            parsed.push(kind);
        }
    }
    Ok(parsed)
}

/// A subscription to make.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub event_types: Vec<ChangeType>,
    pub enabled: bool,
}

/// A change of a subscription: what is named is set. Enabling a subscription
/// clears its failures; its next event is tried at once.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<WebhookUrl>,
    pub event_types: Option<Vec<ChangeType>>,
    pub enabled: Option<bool>,
}

/// One attempt at delivering an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub webhook_id: uuid::Uuid,
    /// The event's feed position and id (`webhook-id`).
    pub position: i64,
    pub event_id: uuid::Uuid,
    pub attempted_at: Timestamp,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// Why the attempt failed (no answer, a status other than 2xx), if it did.
    pub error: Option<String>,
}

impl WebhookAttempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_is_http_or_https_with_a_host_and_no_credentials() {
        assert!(WebhookUrl::parse("https://hooks.example.com/roster?x=1").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/in").is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "/relative",
            "mailto:a@example.com",
            "",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn event_types_are_known_types_each_once() {
        let types = ["user.created".to_owned(), "user.created".to_owned()];
        assert_eq!(parse_event_types(&types), Ok(vec![ChangeType::UserCreated]));
        assert!(parse_event_types(&["user.exploded".to_owned()]).is_err());
    }
}
