-- Attributes a tenant declares for its users beyond the standard profile, and their
-- values. A definition is named case-insensitively (name_key); its type, whether it
-- is multi-valued, unique or case-exact are fixed once declared, since stored values
-- were checked against them.
CREATE TABLE attribute_definitions (
    tenant_id     BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name_key      TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    type          TEXT NOT NULL CHECK (type IN ('string', 'boolean', 'integer', 'decimal', 'dateTime', 'reference')),
    multi_valued  INTEGER NOT NULL,
    required      INTEGER NOT NULL,
    is_unique     INTEGER NOT NULL,
    case_exact    INTEGER NOT NULL,
    mutability    TEXT NOT NULL CHECK (mutability IN ('readWrite', 'immutable', 'writeOnly')),
    returned      TEXT NOT NULL CHECK (returned IN ('always', 'default', 'request', 'never')),
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name_key)
) STRICT, WITHOUT ROWID;

-- One row a value, in the order written. value is the canonical text (RFC 3339 UTC
-- for dateTime, "true"/"false", the decimal as written back); value_key is what
-- equality and text comparisons use (lower-cased unless the attribute is
-- case-exact); number holds integers, decimals and dateTimes (epoch milliseconds)
-- for ordered comparisons; unique_key is value_key for a unique attribute and NULL
-- otherwise, so that one index enforces uniqueness within the tenant.
CREATE TABLE attribute_values (
    tenant_id  BLOB NOT NULL,
    user_id    BLOB NOT NULL,
    name_key   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    value      TEXT NOT NULL,
    value_key  TEXT NOT NULL,
    number     REAL,
    unique_key TEXT,
    PRIMARY KEY (tenant_id, user_id, name_key, position),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, name_key) REFERENCES attribute_definitions (tenant_id, name_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX attribute_values_by_value ON attribute_values (tenant_id, name_key, value_key);
CREATE INDEX attribute_values_by_number ON attribute_values (tenant_id, name_key, number);
CREATE UNIQUE INDEX attribute_values_unique ON attribute_values (tenant_id, name_key, unique_key);
