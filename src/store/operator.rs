use crate::domain::Timestamp;

use super::{Store, StoreResult, Tx, read, write};

/// Where an operator credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorCredentialSource {
    /// ROSTER_BOOTSTRAP_TOKEN: replaced whenever the variable changes.
    Bootstrap,
    /// Made by the server on a first start without one, and printed once.
    Generated,
}

impl OperatorCredentialSource {
    fn as_str(&self) -> &'static str {
        match self {
            OperatorCredentialSource::Bootstrap => "bootstrap",
            OperatorCredentialSource::Generated => "generated",
        }
    }
}

impl Store {
    /// Whether a secret hashing to `secret_hash` is an operator credential.
    pub async fn is_operator_credential(&self, secret_hash: &[u8]) -> StoreResult<bool> {
        let found: Option<i32> = read!(self, |pool| {
            sqlx::query_scalar("SELECT 1 FROM operator_credentials WHERE secret_hash = $1")
                .bind(secret_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}

impl Tx {
    pub async fn has_operator_credential(&mut self) -> StoreResult<bool> {
        let found: Option<i32> = write!(self, |conn| {
            sqlx::query_scalar("SELECT 1 FROM operator_credentials LIMIT 1")
                .fetch_optional(conn)
                .await?
        });
        Ok(found.is_some())
    }

    /// Makes `secret_hash` the one credential of its source (a bootstrap token
    /// replaces the previous bootstrap token).
    pub async fn replace_operator_credential(
        &mut self,
        source: OperatorCredentialSource,
        secret_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("DELETE FROM operator_credentials WHERE source = $1 AND secret_hash <> $2")
                .bind(source.as_str())
                .bind(secret_hash)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO operator_credentials (secret_hash, source, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (secret_hash) DO NOTHING",
            )
            .bind(secret_hash)
            .bind(source.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        Ok(())
    }
}
