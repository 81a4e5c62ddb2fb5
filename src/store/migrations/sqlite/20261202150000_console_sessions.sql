-- Browser sessions of the web console. The cookie holds only a random secret; this
-- table holds its SHA-256. A session is the operator's when `user_id` is NULL (its
-- tenant_id is then the nil UUID, so that every key still starts with tenant_id).
-- `stage` is 'second_factor' between a right password and the TOTP or recovery
-- code, and 'signed_in' after; a session that reaches 'signed_in' gets a new id and
-- secret. Deleting the user ends its sessions.
CREATE TABLE console_sessions (
    tenant_id     BLOB NOT NULL,
    id            BLOB NOT NULL,
    secret_hash   BLOB NOT NULL,
    user_id       BLOB,
    stage         TEXT NOT NULL CHECK (stage IN ('second_factor', 'signed_in')),
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    user_agent    TEXT,
    address       TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX console_sessions_secret_hash ON console_sessions (tenant_id, secret_hash);
CREATE INDEX console_sessions_by_user ON console_sessions (tenant_id, user_id);
