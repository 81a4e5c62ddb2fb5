-- Short-lived bearer tokens issued in exchange for a tenant API key (Anodot's
-- access-token call, OAuth client credentials). A token acts as its key: revoking
-- or deleting the key ends its tokens.
CREATE TABLE access_tokens (
    tenant_id    BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id           BLOB NOT NULL,
    secret_hash  BLOB NOT NULL,
    api_key_id   BLOB NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX access_tokens_secret_hash ON access_tokens (tenant_id, secret_hash);
CREATE INDEX access_tokens_expiry ON access_tokens (tenant_id, expires_at);
