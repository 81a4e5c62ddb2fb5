-- Webhooks: a tenant's subscriptions to its change feed (see 20261203160000_changes).
-- Each subscription is delivered in feed order: `delivered_through` is the position
-- of the last event delivered or passed over, and the events after it are the
-- subscription's queue. An instance delivers a subscription while it holds its
-- lease (`lease_owner` until `leased_until`); one that dies loses the lease when it
-- expires and another takes the subscription over from `delivered_through`.
-- `secret` signs the deliveries (Standard Webhooks: whsec_ and base64); after a
-- rotation the previous one signs as well until `previous_secret_until`.
CREATE TABLE webhooks (
    tenant_id              uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                     uuid NOT NULL,
    url                    text NOT NULL,
    event_types            jsonb NOT NULL,
    enabled                boolean NOT NULL,
    disabled_reason        text,
    secret                 text NOT NULL,
    previous_secret        text,
    previous_secret_until  timestamptz,
    delivered_through      bigint NOT NULL,
    failing_since          timestamptz,
    failures               bigint NOT NULL DEFAULT 0,
    next_attempt_at        timestamptz NOT NULL,
    lease_owner            uuid,
    leased_until           timestamptz,
    version                bigint NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Each attempt at a delivery: when, what the receiver answered, how long it took.
CREATE TABLE webhook_attempts (
    tenant_id     uuid NOT NULL,
    webhook_id    uuid NOT NULL,
    id            uuid NOT NULL,
    position      bigint NOT NULL,
    event_id      uuid NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status        bigint,
    latency_ms    bigint NOT NULL,
    error         text,
    PRIMARY KEY (tenant_id, webhook_id, id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
