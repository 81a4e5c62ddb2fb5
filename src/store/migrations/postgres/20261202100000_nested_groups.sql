-- Nested groups. A group's members are users (memberships) and groups
-- (group_members). Two tables derived from those, and kept in the transaction that
-- changes them, answer effective membership with one index search each:
--
-- group_closure holds every (ancestor, descendant) pair of the hierarchy, each group
-- its own ancestor too; effective_memberships holds every (group, user) pair where the
-- user is a member of the group or of a group within it, with `via`, how many of the
-- user's direct groups lie within the group (so that ending one of them ends the
-- effective membership only when it was the last).
--
-- The derived tables carry no foreign keys: a subgroup of 10,000 members nested ten
-- deep changes 100,000 of their rows at once, and a key check per row would double
-- the cost. The store deletes their rows with the group, user or tenant they name.

CREATE TABLE group_members (
    tenant_id   uuid NOT NULL,
    group_id    uuid NOT NULL,
    member_id   uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    CHECK (group_id <> member_id)
);
CREATE INDEX group_members_by_member ON group_members (tenant_id, member_id, group_id);

CREATE TABLE group_closure (
    tenant_id      uuid NOT NULL,
    ancestor_id    uuid NOT NULL,
    descendant_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, ancestor_id, descendant_id)
);
CREATE INDEX group_closure_by_descendant ON group_closure (tenant_id, descendant_id, ancestor_id);
INSERT INTO group_closure (tenant_id, ancestor_id, descendant_id)
SELECT tenant_id, id, id FROM groups;

CREATE TABLE effective_memberships (
    tenant_id  uuid NOT NULL,
    group_id   uuid NOT NULL,
    user_id    uuid NOT NULL,
    via        bigint NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX effective_memberships_by_user ON effective_memberships (tenant_id, user_id, group_id);
-- The rows a change has just counted down to no direct group, found without reading
-- the groups they belong to; each change deletes its own before it commits.
CREATE INDEX effective_memberships_ended ON effective_memberships (tenant_id) WHERE via <= 0;
INSERT INTO effective_memberships (tenant_id, group_id, user_id, via)
SELECT tenant_id, group_id, user_id, 1 FROM memberships;
