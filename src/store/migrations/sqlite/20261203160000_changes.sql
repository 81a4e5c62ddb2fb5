-- The change feed: every committed change of a tenant's users, groups and
-- memberships. A tenant's changes are numbered by `position` in the order their
-- transactions committed: a writer takes the next positions from the tenant's
-- `change_heads` row just before it commits, and holds that row until it has.
-- `pruned_through` is the last position removed by retention: a reader asking for
-- what came after an earlier position has missed changes and is told so.
CREATE TABLE change_heads (
    tenant_id       BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    last_position   INTEGER NOT NULL,
    pruned_through  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE changes (
    tenant_id       BLOB NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    id              BLOB NOT NULL,
    occurred_at     INTEGER NOT NULL,
    change_type     TEXT NOT NULL,
    object_kind     TEXT NOT NULL,
    object_id       BLOB NOT NULL,
    object_version  INTEGER,
    changed         TEXT NOT NULL,
    member_kind     TEXT,
    member_id       BLOB,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    PRIMARY KEY (tenant_id, position)
) STRICT, WITHOUT ROWID;

