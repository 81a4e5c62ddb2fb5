-- Every key and every index starts with tenant_id, so that the schema can be
-- distributed by tenant without change. The *_key columns hold the lower-cased
-- form that uniqueness and prefix search are decided on; "C" collation makes their
-- order byte-wise, so a prefix search is an index range scan.

CREATE TABLE tenants (
    tenant_id   uuid PRIMARY KEY,
    name        text NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE users (
    tenant_id                 uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                        uuid NOT NULL,
    email                     text NOT NULL,
    email_key                 text COLLATE "C" NOT NULL,
    first_name                text NOT NULL,
    first_name_key            text COLLATE "C" NOT NULL,
    last_name                 text NOT NULL,
    last_name_key             text COLLATE "C" NOT NULL,
    phone                     text,
    company                   text,
    country_code              text,
    role                      text NOT NULL CHECK (role IN ('admin', 'member')),
    status                    text NOT NULL CHECK (status IN ('active', 'disabled', 'pending')),
    external_id               text,
    password_hash             text,
    password_changed_at       timestamptz,
    two_factor_enabled        boolean NOT NULL DEFAULT false,
    successful_logins         bigint NOT NULL DEFAULT 0,
    failed_logins             bigint NOT NULL DEFAULT 0,
    last_successful_login_at  timestamptz,
    last_failed_login_at      timestamptz,
    last_action_at            timestamptz,
    version                   bigint NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, email_key);
CREATE INDEX users_first_name_key ON users (tenant_id, first_name_key);
CREATE INDEX users_last_name_key ON users (tenant_id, last_name_key);
CREATE INDEX users_status ON users (tenant_id, status, id);
CREATE INDEX users_role ON users (tenant_id, role, id);
CREATE INDEX users_external_id ON users (tenant_id, external_id);

CREATE TABLE groups (
    tenant_id                   uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id                          uuid NOT NULL,
    name                        text NOT NULL,
    name_key                    text COLLATE "C" NOT NULL,
    description                 text NOT NULL,
    owner                       text NOT NULL CHECK (owner IN ('LOCAL', 'SCIM', 'SAML')),
    federated_attribute_values  jsonb NOT NULL,
    external_id                 text,
    version                     bigint NOT NULL,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_name_key ON groups (tenant_id, name_key);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

-- A user's default group is the membership marked is_default: it cannot outlive
-- the membership, and a user has at most one.
CREATE TABLE memberships (
    tenant_id   uuid NOT NULL,
    group_id    uuid NOT NULL,
    user_id     uuid NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX memberships_by_user ON memberships (tenant_id, user_id, group_id);
CREATE UNIQUE INDEX memberships_default ON memberships (tenant_id, user_id) WHERE is_default;

-- Keys are found by the SHA-256 of their secret; the secret names its tenant.
CREATE TABLE api_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'reader')),
    secret_hash   bytea NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (tenant_id, secret_hash);

CREATE TABLE audit_events (
    tenant_id    uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    actor_kind   text NOT NULL,
    actor_id     text,
    action       text NOT NULL,
    target_kind  text NOT NULL,
    target_id    text NOT NULL,
    client_address  text,
    user_agent   text,
    details      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_id, id);

-- The operator credential is the one thing above tenants.
CREATE TABLE operator_credentials (
    secret_hash  bytea PRIMARY KEY,
    source       text NOT NULL CHECK (source IN ('bootstrap', 'generated')),
    created_at   timestamptz NOT NULL
);
