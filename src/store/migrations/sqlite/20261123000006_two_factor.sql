-- Two-factor sign-in. A user's TOTP secret, pending until confirmed with a first
-- code; last_used_step is the newest 30-second step whose code was accepted, so
-- that no code is accepted twice (RFC 6238 section 5.2). The secret is stored as it
-- is because codes are computed from it.
CREATE TABLE two_factor (
    tenant_id       BLOB NOT NULL,
    user_id         BLOB NOT NULL,
    secret          TEXT NOT NULL,
    confirmed_at    INTEGER,
    last_used_step  INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- One-time recovery codes, stored as SHA-256 hashes; a used code is deleted.
CREATE TABLE recovery_codes (
    tenant_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    code_hash   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
