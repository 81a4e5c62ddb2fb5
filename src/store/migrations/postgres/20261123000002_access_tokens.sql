-- Short-lived bearer tokens issued in exchange for a tenant API key (Anodot's
-- access-token call, OAuth client credentials). A token acts as its key: revoking
-- or deleting the key ends its tokens.
CREATE TABLE access_tokens (
    tenant_id    uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    secret_hash  bytea NOT NULL,
    api_key_id   uuid NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX access_tokens_secret_hash ON access_tokens (tenant_id, secret_hash);
CREATE INDEX access_tokens_expiry ON access_tokens (tenant_id, expires_at);
