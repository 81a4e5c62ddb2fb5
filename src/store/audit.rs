use sqlx::types::Json;

use crate::domain::AuditEvent;

use super::{StoreResult, Tx, write};

impl Tx {
    /// Records an event; it commits or rolls back with the change it describes.
    pub async fn insert_audit_event(&mut self, event: &AuditEvent) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query(
                "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, actor_id, \
                 action, target_kind, target_id, client_address, user_agent, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(event.tenant_id.as_uuid())
            .bind(event.id.as_uuid())
            .bind(event.occurred_at)
            .bind(event.actor.kind())
            .bind(event.actor.id())
            .bind(event.action.as_str())
            .bind(event.target_kind.as_str())
            .bind(&event.target_id)
            .bind(&event.client.address)
            .bind(&event.client.user_agent)
            .bind(Json(&event.details))
            .execute(conn)
            .await?;
        });
        Ok(())
    }
}
