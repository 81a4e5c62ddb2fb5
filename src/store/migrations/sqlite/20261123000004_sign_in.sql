-- Bearer tokens issued to users who sign in. A token acts as its user, with the
-- user's current role and status; deleting the user ends its tokens.
CREATE TABLE user_tokens (
    tenant_id    BLOB NOT NULL,
    id           BLOB NOT NULL,
    secret_hash  BLOB NOT NULL,
    user_id      BLOB NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX user_tokens_secret_hash ON user_tokens (tenant_id, secret_hash);
CREATE INDEX user_tokens_expiry ON user_tokens (tenant_id, expires_at);
CREATE INDEX user_tokens_by_user ON user_tokens (tenant_id, user_id);

-- Failed sign-ins counted per subject: an email address (known or not, so that the
-- lock reveals nothing about which addresses exist) or a client address. In the
-- database, so that every instance shares them.
CREATE TABLE login_throttle (
    tenant_id     BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  INTEGER,
    PRIMARY KEY (tenant_id, subject)
) STRICT, WITHOUT ROWID;

-- The audit log's filters.
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, id);
CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, id);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, occurred_at, id);
