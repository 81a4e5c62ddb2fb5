use super::{TenantId, Timestamp};

/// A customer account: everything else in the directory belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
