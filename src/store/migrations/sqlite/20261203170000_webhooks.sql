-- Webhooks: a tenant's subscriptions to its change feed (see 20261203160000_changes).
-- Each subscription is delivered in feed order: `delivered_through` is the position
-- of the last event delivered or passed over, and the events after it are the
-- subscription's queue. An instance delivers a subscription while it holds its
-- lease (`lease_owner` until `leased_until`); one that dies loses the lease when it
-- expires and another takes the subscription over from `delivered_through`.
-- `secret` signs the deliveries (Standard Webhooks: whsec_ and base64); after a
-- rotation the previous one signs as well until `previous_secret_until`.
CREATE TABLE webhooks (
    tenant_id              BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                     BLOB NOT NULL,
    url                    TEXT NOT NULL,
    event_types            TEXT NOT NULL,
    enabled                INTEGER NOT NULL,
    disabled_reason        TEXT,
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  INTEGER,
    delivered_through      INTEGER NOT NULL,
    failing_since          INTEGER,
    failures               INTEGER NOT NULL DEFAULT 0,
    next_attempt_at        INTEGER NOT NULL,
    lease_owner            BLOB,
    leased_until           INTEGER,
    version                INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

-- Each attempt at a delivery: when, what the receiver answered, how long it took.
CREATE TABLE webhook_attempts (
    tenant_id     BLOB NOT NULL,
    webhook_id    BLOB NOT NULL,
    id            BLOB NOT NULL,
    position      INTEGER NOT NULL,
    event_id      BLOB NOT NULL,
    attempted_at  INTEGER NOT NULL,
    status        INTEGER,
    latency_ms    INTEGER NOT NULL,
    error         TEXT,
    PRIMARY KEY (tenant_id, webhook_id, id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
