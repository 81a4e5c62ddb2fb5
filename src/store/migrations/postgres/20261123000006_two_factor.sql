-- Two-factor sign-in. A user's TOTP secret, pending until confirmed with a first
-- code; last_used_step is the newest 30-second step whose code was accepted, so
-- that no code is accepted twice (RFC 6238 section 5.2). The secret is stored as it
-- is because codes are computed from it.
CREATE TABLE two_factor (
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    secret          text NOT NULL,
    confirmed_at    timestamptz,
    last_used_step  bigint,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- One-time recovery codes, stored as SHA-256 hashes; a used code is deleted.
CREATE TABLE recovery_codes (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
