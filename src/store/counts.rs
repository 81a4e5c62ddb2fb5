//! How many users and groups each tenant holds (`tenant_counts`), changed in the
//! transaction of every insert and delete, so that an unfiltered list's total is read
//! in one step whatever the tenant's size instead of counted row by row.
//!
//! PostgreSQL spreads a tenant's counts over [`SLOTS`] rows, picked by the id of what
//! changed: concurrent writers of one tenant then rarely wait on each other's row
//! lock until commit. SQLite has one writer and keeps one row. A count is the sum of
//! the tenant's rows.

use crate::domain::TenantId;

use super::{Store, StoreResult, Tx, TxInner, read, write};

/// How many rows a tenant's counts are spread over on PostgreSQL.
const SLOTS: u128 = 8;

/// A change to a tenant's counts.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CountChange {
    pub users: i64,
    pub groups: i64,
    /// Whether the users that came were written in bulk (an import), whose
    /// transaction may outlive the bound [`super::positions`] relies on.
    pub bulk: bool,
}

/// A tenant's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TenantCounts {
    pub users: i64,
    pub groups: i64,
    /// Grows with each user removed and each bulk write of users: while it stands
    /// still, a user's place in id order moves only for users minted after it.
    pub user_shifts: i64,
}

impl Tx {
    /// Adds `change` to the tenant's counts; `spread` (the id of what changed)
    /// picks the row on PostgreSQL.
    pub(super) async fn change_counts(
        &mut self,
        tenant: TenantId,
        change: CountChange,
        spread: uuid::Uuid,
    ) -> StoreResult<()> {
        let slot = match self.inner {
            TxInner::Sqlite(..) => 0,
            TxInner::Postgres(_) => (spread.as_u128() % SLOTS) as i64,
        };
        let removed = (-change.users).max(0);
        let shifts = removed + i64::from(change.bulk && change.users > 0);
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO tenant_counts (tenant_id, slot, users, user_shifts, groups) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, slot) DO UPDATE SET \
                 users = tenant_counts.users + excluded.users, \
                 user_shifts = tenant_counts.user_shifts + excluded.user_shifts, \
                 groups = tenant_counts.groups + excluded.groups",
            )
            .bind(tenant.as_uuid())
            .bind(slot)
            .bind(change.users)
            .bind(shifts)
            .bind(change.groups)
            .execute(conn)
            .await?;
        });
        Ok(())
    }
}

impl Store {
    /// The tenant's counts: sums of at most [`SLOTS`] rows.
    pub(super) async fn tenant_counts(&self, tenant: TenantId) -> StoreResult<TenantCounts> {
        let (users, groups, user_shifts): (i64, i64, i64) = read!(self, |pool| {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(groups), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(user_shifts), 0) AS BIGINT) \
                 FROM tenant_counts WHERE tenant_id = $1",
            )
            .bind(tenant.as_uuid())
            .fetch_one(pool)
            .await?
        });
        Ok(TenantCounts {
            users,
            groups,
            user_shifts,
        })
    }
}
