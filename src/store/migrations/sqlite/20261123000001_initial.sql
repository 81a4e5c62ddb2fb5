-- The same schema as PostgreSQL's: ids are 16-byte BLOBs, times are INTEGER
-- milliseconds since the Unix epoch, JSON is TEXT. Tables are STRICT, and the
-- tenant-scoped ones WITHOUT ROWID so that rows are stored in (tenant_id, id) order.
-- The *_key columns hold the lower-cased form that uniqueness and prefix search are
-- decided on; SQLite's default BINARY collation is byte-wise.

CREATE TABLE tenants (
    tenant_id   BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    tenant_id                 BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                        BLOB NOT NULL,
    email                     TEXT NOT NULL,
    email_key                 TEXT NOT NULL,
    first_name                TEXT NOT NULL,
    first_name_key            TEXT NOT NULL,
    last_name                 TEXT NOT NULL,
    last_name_key             TEXT NOT NULL,
    phone                     TEXT,
    company                   TEXT,
    country_code              TEXT,
    role                      TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    status                    TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'pending')),
    external_id               TEXT,
    password_hash             TEXT,
    password_changed_at       INTEGER,
    two_factor_enabled        INTEGER NOT NULL DEFAULT 0,
    successful_logins         INTEGER NOT NULL DEFAULT 0,
    failed_logins             INTEGER NOT NULL DEFAULT 0,
    last_successful_login_at  INTEGER,
    last_failed_login_at      INTEGER,
    last_action_at            INTEGER,
    version                   INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, email_key);
CREATE INDEX users_first_name_key ON users (tenant_id, first_name_key);
CREATE INDEX users_last_name_key ON users (tenant_id, last_name_key);
CREATE INDEX users_status ON users (tenant_id, status, id);
CREATE INDEX users_role ON users (tenant_id, role, id);
CREATE INDEX users_external_id ON users (tenant_id, external_id);

CREATE TABLE groups (
    tenant_id                   BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                          BLOB NOT NULL,
    name                        TEXT NOT NULL,
    name_key                    TEXT NOT NULL,
    description                 TEXT NOT NULL,
    owner                       TEXT NOT NULL CHECK (owner IN ('LOCAL', 'SCIM', 'SAML')),
    federated_attribute_values  TEXT NOT NULL,
    external_id                 TEXT,
    version                     INTEGER NOT NULL,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX groups_name_key ON groups (tenant_id, name_key);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

CREATE TABLE memberships (
    tenant_id   BLOB NOT NULL,
    group_id    BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships (tenant_id, user_id, group_id);
CREATE UNIQUE INDEX memberships_default ON memberships (tenant_id, user_id) WHERE is_default;

CREATE TABLE api_keys (
    tenant_id     BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id            BLOB NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reader')),
    secret_hash   BLOB NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (tenant_id, secret_hash);

CREATE TABLE audit_events (
    tenant_id    BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id           BLOB NOT NULL,
    occurred_at  INTEGER NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    client_address  TEXT,
    user_agent   TEXT,
    details      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_id, id);

CREATE TABLE operator_credentials (
    secret_hash  BLOB PRIMARY KEY,
    source       TEXT NOT NULL CHECK (source IN ('bootstrap', 'generated')),
    created_at   INTEGER NOT NULL
) STRICT;
