-- Bearer tokens issued to users who sign in. A token acts as its user, with the
-- user's current role and status; deleting the user ends its tokens.
CREATE TABLE user_tokens (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    secret_hash  bytea NOT NULL,
    user_id      uuid NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX user_tokens_secret_hash ON user_tokens (tenant_id, secret_hash);
CREATE INDEX user_tokens_expiry ON user_tokens (tenant_id, expires_at);
CREATE INDEX user_tokens_by_user ON user_tokens (tenant_id, user_id);

-- Failed sign-ins counted per subject: an email address (known or not, so that the
-- lock reveals nothing about which addresses exist) or a client address. In the
-- database, so that every instance over one PostgreSQL shares them.
CREATE TABLE login_throttle (
    tenant_id     uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    subject       text NOT NULL,
    window_start  timestamptz NOT NULL,
    failures      bigint NOT NULL,
    locked_until  timestamptz,
    PRIMARY KEY (tenant_id, subject)
);

-- The audit log's filters.
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, id);
CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, id);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, occurred_at, id);
