-- One-time tokens with which an active user sets a new password, mailed to it on
-- its own request or an administrator's (or handed over by the administrator when
-- no mail is configured). Only the token's SHA-256 is kept; a new one replaces the
-- user's earlier one, and using it deletes it.
CREATE TABLE password_resets (
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    secret_hash  bytea NOT NULL,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX password_resets_secret_hash ON password_resets (tenant_id, secret_hash);

-- When the user's last password-reset mail went out (Dynatrace's
-- resetPasswordTokenSentAt): a column of the user, so that every read of users
-- carries it without another query. NULL until a mail is sent.
ALTER TABLE users ADD COLUMN password_reset_sent_at timestamptz;
