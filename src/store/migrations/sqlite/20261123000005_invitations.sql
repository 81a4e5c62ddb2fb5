-- One-time tokens with which a pending user sets its first password. An
-- administrator obtains one; a new one replaces the user's earlier one.
CREATE TABLE invitations (
    tenant_id    BLOB NOT NULL,
    user_id      BLOB NOT NULL,
    secret_hash  BLOB NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX invitations_secret_hash ON invitations (tenant_id, secret_hash);
