-- Browser sessions of the web console. The cookie holds only a random secret; this
-- table holds its SHA-256. A session is the operator's when `user_id` is NULL (its
-- tenant_id is then the nil UUID, so that every key still starts with tenant_id).
-- `stage` is 'second_factor' between a right password and the TOTP or recovery
-- code, and 'signed_in' after; a session that reaches 'signed_in' gets a new id and
-- secret. Deleting the user ends its sessions.
CREATE TABLE console_sessions (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    secret_hash   bytea NOT NULL,
    user_id       uuid,
    stage         text NOT NULL CHECK (stage IN ('second_factor', 'signed_in')),
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    user_agent    text,
    address       text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX console_sessions_secret_hash ON console_sessions (tenant_id, secret_hash);
CREATE INDEX console_sessions_by_user ON console_sessions (tenant_id, user_id);
