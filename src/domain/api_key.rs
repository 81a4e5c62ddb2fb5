use super::user::text_enum;
use super::{ApiKeyId, Description, KeyName, TenantId, Timestamp};

/// What a tenant API key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyRole {
    /// Reads and writes everything in its tenant, keys included.
    Admin,
    /// Reads and never writes.
    Reader,
}

text_enum!(ApiKeyRole { Admin = "admin", Reader = "reader" });

/// A tenant API key as it is listed: never with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub role: ApiKeyRole,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl ApiKey {
    /// Whether the key authenticates at `now`.
    pub fn is_usable_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: KeyName,
    pub description: Description,
    pub role: ApiKeyRole,
    pub expires_at: Option<Timestamp>,
}
