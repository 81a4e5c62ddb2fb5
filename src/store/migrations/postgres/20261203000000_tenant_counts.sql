-- How many users and groups each tenant holds, changed in the transaction of every
-- insert and delete, so that an unfiltered list's total is read, not counted (a
-- count walks the tenant: 50 ms at 1,000,000 users). `user_shifts` only grows, with
-- each user removed and each import of users: while it stands still, a numbered
-- page's remembered start still holds (see store/positions.rs). A tenant's counts are spread over several rows (`slot`), so
-- that concurrent writers of one tenant do not queue on one row's lock until they
-- commit; they are read as their sum.
CREATE TABLE tenant_counts (
    tenant_id      uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    slot           bigint NOT NULL,
    users          bigint NOT NULL DEFAULT 0,
    user_shifts    bigint NOT NULL DEFAULT 0,
    groups         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, slot)
);

INSERT INTO tenant_counts (tenant_id, slot, users, user_shifts, groups)
SELECT t.tenant_id, 0,
       (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.tenant_id),
       0,
       (SELECT COUNT(*) FROM groups g WHERE g.tenant_id = t.tenant_id)
FROM tenants t;
