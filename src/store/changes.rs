//! The change feed (`changes`, `change_heads`): the changes a transaction records are
//! kept with it until it commits, then numbered and written just before the commit.
//!
//! A tenant's next positions come from its `change_heads` row, which the writer then
//! holds until it has committed: the next writer of the tenant takes its positions
//! only after, so positions follow the order of the commits and a reader that has
//! seen a position will never find a smaller one appear later. SQLite has one writer
//! and commits in that order anyway. The row is taken by the transaction's last
//! statements, so it is held for as long as the commit takes and no other lock is
//! awaited while holding it. A transaction that writes to several tenants (batched
//! creates) takes their rows in the order of their ids.

use std::collections::BTreeMap;

use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{Change, FeedEvent, Member, TenantId, Timestamp};

use super::audit::parse_actor;
use super::codec::parse_enum;
use super::{Store, StoreError, StoreResult, Tx, read, write};

/// The most changes one transaction of retention removes.
const PRUNED_PER_TRANSACTION: i64 = 10_000;

/// What a read of the feed found: up to `limit` events after a position, and where
/// the feed stands.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// The position the events follow.
    pub after: i64,
    pub events: Vec<FeedEvent>,
    /// The last position the tenant's feed has reached (0 before any change).
    pub last_position: i64,
    /// The last position retention removed: a reader after an earlier one missed
    /// changes.
    pub pruned_through: i64,
}

#[derive(FromRow)]
struct ChangeRow {
    tenant_id: Uuid,
    position: i64,
    id: Uuid,
    occurred_at: Timestamp,
    change_type: String,
    object_kind: String,
    object_id: Uuid,
    object_version: Option<i64>,
    changed: Json<Vec<String>>,
    member_kind: Option<String>,
    member_id: Option<Uuid>,
    actor_kind: String,
    actor_id: Option<String>,
}

impl TryFrom<ChangeRow> for FeedEvent {
    type Error = StoreError;

    fn try_from(row: ChangeRow) -> Result<Self, StoreError> {
        let object = |kind: &str, id| {
            Member::parse(kind, id)
                .map_err(|_| StoreError::Corrupt(format!("changes holds an object {kind:?}")))
        };
        let member = match (row.member_kind.as_deref(), row.member_id) {
            (Some(kind), Some(id)) => Some(object(kind, id)?),
            _ => None,
        };
        Ok(FeedEvent {
            position: row.position,
            change: Change {
                id: row.id,
                tenant_id: TenantId::from_uuid(row.tenant_id),
                occurred_at: row.occurred_at,
                change_type: parse_enum("changes.change_type", &row.change_type)?,
                object: object(&row.object_kind, row.object_id)?,
                version: row.object_version,
                changed: row.changed.0,
                member,
                actor: parse_actor("changes", &row.actor_kind, row.actor_id.as_deref())?,
            },
        })
    }
}

impl Store {
    /// Up to `limit` of the tenant's committed changes after `after`, in the order
    /// they committed, and where its feed stands.
    pub async fn changes_after(
        &self,
        tenant: TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<FeedPage> {
        let (rows, head): (Vec<ChangeRow>, Option<(i64, i64)>) = read!(self, |conn| {
            let rows = sqlx::query_as(
                "SELECT tenant_id, position, id, occurred_at, change_type, object_kind, \
                 object_id, object_version, changed, member_kind, member_id, actor_kind, \
                 actor_id FROM changes WHERE tenant_id = $1 AND position > $2 \
                 ORDER BY position LIMIT $3",
            )
            .bind(tenant.as_uuid())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            let head = sqlx::query_as(
                "SELECT last_position, pruned_through FROM change_heads WHERE tenant_id = $1",
            )
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
            (rows, head)
        });
        let (last_position, pruned_through) = head.unwrap_or((0, 0));
        Ok(FeedPage {
            after,
            events: rows
                .into_iter()
                .map(FeedEvent::try_from)
                .collect::<StoreResult<_>>()?,
            last_position,
            pruned_through,
        })
    }

    /// Removes every tenant's changes recorded before `cutoff` (but those a webhook
    /// has yet to deliver), remembering for each tenant the last position removed;
    /// answers how many were removed.
    pub async fn prune_changes(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let tenants: Vec<(Uuid,)> = read!(self, |conn| {
            sqlx::query_as("SELECT tenant_id FROM change_heads")
                .fetch_all(conn)
                .await?
        });
        let mut removed = 0;
        for (tenant,) in tenants {
            // A bounded share a transaction, so that writers are not held up long.
            let tenant = TenantId::from_uuid(tenant);
            // Not past what a subscription has yet to deliver.
            let undelivered = self.oldest_undelivered(tenant).await?;
            loop {
                let mut tx = self.begin().await?;
                let now = tx.prune_changes(tenant, cutoff, undelivered).await?;
                tx.commit().await?;
                removed += now;
                if now < PRUNED_PER_TRANSACTION as u64 {
                    break;
                }
            }
        }
        Ok(removed)
    }
}

impl Tx {
    /// Records `changes`, to be numbered and written when the transaction commits
    /// (and forgotten with what a savepoint undoes).
    pub fn record_changes(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.changes.extend(changes);
    }

    /// Numbers and writes the changes recorded: the commit's last statements.
    pub(super) async fn write_changes(&mut self) -> StoreResult<()> {
        let mut by_tenant: BTreeMap<TenantId, Vec<Change>> = BTreeMap::new();
        for change in std::mem::take(&mut self.changes) {
            by_tenant.entry(change.tenant_id).or_default().push(change);
        }
        for (tenant, changes) in by_tenant {
            let count = changes.len() as i64;
            let last: i64 = write!(self, |conn| {
                sqlx::query_scalar(
                    "INSERT INTO change_heads (tenant_id, last_position) VALUES ($1, $2) \
                     ON CONFLICT (tenant_id) DO UPDATE SET \
                     last_position = change_heads.last_position + excluded.last_position \
                     RETURNING last_position",
                )
                .bind(tenant.as_uuid())
                .bind(count)
                .fetch_one(conn)
                .await?
            });
            let first = last - count + 1;
            self.insert_changes(first, &changes).await?;
        }
        Ok(())
    }

    /// Inserts `changes` at positions from `first` on.
    async fn insert_changes(&mut self, first: i64, changes: &[Change]) -> StoreResult<()> {
        const COLUMNS: usize = 13;
        let rows = self.rows_per_statement(COLUMNS);
        for (c, chunk) in changes.chunks(rows).enumerate() {
            let mut text = String::from(
                "INSERT INTO changes (tenant_id, position, id, occurred_at, change_type, \
                 object_kind, object_id, object_version, changed, member_kind, member_id, \
                 actor_kind, actor_id) VALUES ",
            );
            push_rows(&mut text, chunk.len(), COLUMNS);
            let first = first + (c * rows) as i64;
            write!(self, |conn| {
                let mut query = sqlx::query(&text);
                for (i, change) in chunk.iter().enumerate() {
                    query = query
                        .bind(change.tenant_id.as_uuid())
                        .bind(first + i as i64)
                        .bind(change.id)
                        .bind(change.occurred_at)
                        .bind(change.change_type.as_str())
                        .bind(change.object.kind_name())
                        .bind(change.object.id())
                        .bind(change.version)
                        .bind(Json(&change.changed))
                        .bind(change.member.map(|m| m.kind_name()))
                        .bind(change.member.map(|m| m.id()))
                        .bind(change.actor.kind())
                        .bind(change.actor.id());
                }
                query.execute(conn).await?;
            });
        }
        Ok(())
    }

    /// Removes the tenant's changes up to the last one recorded before `cutoff`, at
    /// most [`PRUNED_PER_TRANSACTION`] of them, none after `keep_after`.
    /// Positions follow the commits and the times are taken as the changes are
    /// made, so they rise together (but for the moments a commit takes): that
    /// position is found by halving the span still kept, a key lookup a step.
    async fn prune_changes(
        &mut self,
        tenant: TenantId,
        cutoff: Timestamp,
        keep_after: Option<i64>,
    ) -> StoreResult<u64> {
        let (pruned_through, last): (i64, i64) = write!(self, |conn| {
            sqlx::query_as(
                "SELECT pruned_through, last_position FROM change_heads WHERE tenant_id = $1",
            )
            .bind(tenant.as_uuid())
            .fetch_optional(conn)
            .await?
            .unwrap_or((0, 0))
        });
        let mut kept_from = pruned_through + 1;
        // The first position at or after `at` still kept, and when it was recorded.
        let first_from = async |tx: &mut Tx, at: i64| -> StoreResult<Option<(i64, Timestamp)>> {
            Ok(write!(tx, |conn| {
                sqlx::query_as(
                    "SELECT position, occurred_at FROM changes \
                     WHERE tenant_id = $1 AND position >= $2 ORDER BY position LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(at)
                .fetch_optional(conn)
                .await?
            }))
        };
        // Every position below `kept_from` goes; the last one to go is below `upto`.
        let mut upto = last + 1;
        while kept_from < upto {
            let middle = kept_from + (upto - kept_from) / 2;
            match first_from(self, middle).await? {
                Some((position, at)) if position < upto && at < cutoff => kept_from = position + 1,
                _ => upto = middle,
            }
        }
        let through = (kept_from - 1)
            .min(pruned_through + PRUNED_PER_TRANSACTION)
            .min(keep_after.unwrap_or(i64::MAX));
        if through <= pruned_through {
            return Ok(0);
        }
        let removed = write!(self, |conn| {
            let removed =
                sqlx::query("DELETE FROM changes WHERE tenant_id = $1 AND position <= $2")
                    .bind(tenant.as_uuid())
                    .bind(through)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            // Last: the tenant's writers wait on this row only while this commits.
            sqlx::query("UPDATE change_heads SET pruned_through = $2 WHERE tenant_id = $1")
                .bind(tenant.as_uuid())
                .bind(through)
                .execute(&mut *conn)
                .await?;
            removed
        });
        Ok(removed)
    }
}

/// Appends `rows` groups of `columns` numbered parameters: `($1, $2), ($3, $4)`.
pub(super) fn push_rows(text: &mut String, rows: usize, columns: usize) {
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ", (" });
        for column in 1..=columns {
            if column > 1 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(row * columns + column).to_string());
        }
        text.push(')');
    }
}
