-- The change feed: every committed change of a tenant's users, groups and
-- memberships. A tenant's changes are numbered by `position` in the order their
-- transactions committed: a writer takes the next positions from the tenant's
-- `change_heads` row just before it commits, and holds that row until it has.
-- `pruned_through` is the last position removed by retention: a reader asking for
-- what came after an earlier position has missed changes and is told so.
CREATE TABLE change_heads (
    tenant_id       uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    last_position   bigint NOT NULL,
    pruned_through  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE changes (
    tenant_id       uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    position        bigint NOT NULL,
    id              uuid NOT NULL,
    occurred_at     timestamptz NOT NULL,
    change_type     text NOT NULL,
    object_kind     text NOT NULL,
    object_id       uuid NOT NULL,
    object_version  bigint,
    changed         jsonb NOT NULL,
    member_kind     text,
    member_id       uuid,
    actor_kind      text NOT NULL,
    actor_id        text,
    PRIMARY KEY (tenant_id, position)
);

