use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{
    Actor, ApiKeyId, AuditEvent, AuditEventId, ClientInfo, PageRequest, TenantId, Timestamp, UserId,
};

use super::changes::push_rows;
use super::codec::parse_enum;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, read, write};

/// Which audit events a list returns; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The actor's id (an API key's or a user's).
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Newest first (the cursor then pages back in time); oldest first otherwise.
    pub newest_first: bool,
}

#[derive(FromRow)]
struct AuditRow {
    tenant_id: Uuid,
    id: Uuid,
    occurred_at: Timestamp,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target_kind: String,
    target_id: String,
    client_address: Option<String>,
    user_agent: Option<String>,
    details: Json<serde_json::Value>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let actor = parse_actor("audit_events", &row.actor_kind, row.actor_id.as_deref())?;
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            occurred_at: row.occurred_at,
            actor,
            action: parse_enum("audit_events.action", &row.action)?,
            target_kind: parse_enum("audit_events.target_kind", &row.target_kind)?,
            target_id: row.target_id,
            client: ClientInfo {
                address: row.client_address,
                user_agent: row.user_agent,
            },
            details: row.details.0,
        })
    }
}

/// The actor a row of `table` names by its kind and id.
pub(super) fn parse_actor(table: &str, kind: &str, id: Option<&str>) -> Result<Actor, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("{table}.actor holds {kind:?}"));
    let uuid = || {
        id.and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(corrupt)
    };
    Ok(match kind {
        "operator" => Actor::Operator,
        "cli" => Actor::Cli,
        "anonymous" => Actor::Anonymous,
        "api_key" => Actor::ApiKey(ApiKeyId::from_uuid(uuid()?)),
        "user" => Actor::User(UserId::from_uuid(uuid()?)),
        _ => return Err(corrupt()),
    })
}

impl Store {
    /// Up to `page.limit + 1` of the tenant's audit events matching `filter`, in the
    /// filter's order, after the cursor.
    pub async fn list_audit_events(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut sql = Sql::new(
            "SELECT tenant_id, id, occurred_at, actor_kind, actor_id, action, target_kind, \
             target_id, client_address, user_agent, details FROM audit_events WHERE tenant_id = ",
        );
        sql.bind(Value::Uuid(tenant.as_uuid()));
        if let Some(after) = page.after {
            let beyond = if filter.newest_first {
                " AND id < "
            } else {
                " AND id > "
            };
            sql.push(beyond).bind(Value::Uuid(after.last_id()));
        }
        if let Some(actor) = &filter.actor_id {
            sql.push(" AND actor_id = ")
                .bind(Value::Text(actor.clone()));
        }
        if let Some(action) = &filter.action {
            sql.push(" AND action = ").bind(Value::Text(action.clone()));
        }
        if let Some(target) = &filter.target_id {
            sql.push(" AND target_id = ")
                .bind(Value::Text(target.clone()));
        }
        if let Some(since) = filter.since {
            sql.push(" AND occurred_at >= ").bind(Value::Time(since));
        }
        if let Some(until) = filter.until {
            sql.push(" AND occurred_at < ").bind(Value::Time(until));
        }
        sql.push(if filter.newest_first {
            " ORDER BY id DESC LIMIT "
        } else {
            " ORDER BY id LIMIT "
        })
        .bind(Value::Int(i64::from(page.limit.get()) + 1));
        let Sql { text, values } = sql;
        let rows: Vec<AuditRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(AuditEvent::try_from).collect()
    }
}

impl Tx {
    /// Records an event; it commits or rolls back with the change it describes.
    pub async fn insert_audit_event(&mut self, event: &AuditEvent) -> StoreResult<()> {
        self.insert_audit_events(std::slice::from_ref(event)).await
    }

    /// Records events, as many to a statement as the parameters allow.
    pub async fn insert_audit_events(&mut self, events: &[AuditEvent]) -> StoreResult<()> {
        const COLUMNS: usize = 11;
        for chunk in events.chunks(self.rows_per_statement(COLUMNS)) {
            let mut text = String::from(
                "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, actor_id, \
                 action, target_kind, target_id, client_address, user_agent, details) VALUES ",
            );
            push_rows(&mut text, chunk.len(), COLUMNS);
            write!(self, |conn| {
                let mut query = sqlx::query(&text);
                for event in chunk {
                    query = query
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
                        .bind(Json(&event.details));
                }
                query.execute(conn).await?;
            });
        }
        Ok(())
    }
}
