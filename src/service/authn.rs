use secrecy::SecretString;
use serde_json::json;

use crate::auth::{
    Caller, PresentedToken, Principal, generate_access_token, generate_operator_secret, sha256,
};
use crate::domain::{
    Action, ApiKeyId, ClientInfo, GrantedScopes, ScopeRequest, TargetKind, TenantId, Timestamp,
};
use crate::store::OperatorCredentialSource;

use super::{Directory, ServiceError, ServiceResult, audit};

/// A key's last use is written at most this often, so that reads stay reads.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

/// What a request used, whose last use is recorded.
#[derive(Debug, Clone, Copy)]
enum Used {
    ApiKey(ApiKeyId),
    User(crate::domain::UserId),
}

/// An access token just issued: its secret is shown in this reply only.
#[derive(Debug)]
pub struct IssuedAccessToken {
    pub token: SecretString,
    pub expires_in_seconds: i64,
    pub expires_at: Timestamp,
    /// What the token may do, under the names the client asked for.
    pub scopes: GrantedScopes,
}

impl Directory {
    /// Who the bearer of `token` is. Unknown, revoked and expired credentials are all
    /// [`ServiceError::Unauthorized`], alike. Costs one SHA-256 and one indexed lookup,
    /// or none for an API key, access token or operator credential verified in the
    /// last [`super::TRUST_SECONDS`] (see `verified.rs`).
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Principal> {
        match PresentedToken::parse(token) {
            PresentedToken::ApiKey { tenant, hash } => {
                if let Some(principal) = self.verified.get(&hash, Timestamp::now()) {
                    return Ok(principal);
                }
                let ticket = self.verified.ticket();
                let key = self.verified_api_key(tenant, &hash).await?;
                let principal = Self::acting_as(&key);
                self.verified.keep(&hash, principal, key.expires_at, ticket);
                Ok(principal)
            }
            PresentedToken::AccessToken { tenant, hash } => {
                let now = Timestamp::now();
                if let Some(principal) = self.verified.get(&hash, now) {
                    return Ok(principal);
                }
                let ticket = self.verified.ticket();
                let grant = self
                    .store
                    .find_access_token(tenant, &hash)
                    .await?
                    .ok_or(ServiceError::Unauthorized)?;
                if !grant.is_usable_at(now) {
                    return Err(ServiceError::Unauthorized);
                }
                let principal = Principal::ApiKey {
                    tenant_id: tenant,
                    key_id: grant.api_key_id,
                    role: grant.role,
                };
                let expires_at = match grant.key_expires_at {
                    Some(key) => grant.expires_at.min(key),
                    None => grant.expires_at,
                };
                self.verified
                    .keep(&hash, principal, Some(expires_at), ticket);
                Ok(principal)
            }
            PresentedToken::UserAccessKey { tenant, hash } => {
                let user = self
                    .store
                    .find_user_by_access_key(tenant, &hash)
                    .await?
                    .ok_or(ServiceError::Unauthorized)?;
                // Only an active user acts: disabled and pending users' keys rest.
                if user.status != crate::domain::Status::Active {
                    return Err(ServiceError::Unauthorized);
                }
                let now = Timestamp::now();
                let stale_before = now.plus_seconds(-LAST_USED_RESOLUTION_SECONDS);
                if user.login.last_action_at.is_none_or(|at| at < stale_before) {
                    self.record_use(tenant, Used::User(user.id), now, stale_before);
                }
                Ok(Principal::User {
                    tenant_id: tenant,
                    user_id: user.id,
                    role: user.role,
                })
            }
            PresentedToken::UserToken { tenant, hash } => {
                let grant = self
                    .store
                    .find_user_token(tenant, &hash)
                    .await?
                    .ok_or(ServiceError::Unauthorized)?;
                let now = Timestamp::now();
                let usable = grant.revoked_at.is_none()
                    && now < grant.expires_at
                    && grant.status == crate::domain::Status::Active;
                if !usable {
                    return Err(ServiceError::Unauthorized);
                }
                let stale_before = now.plus_seconds(-LAST_USED_RESOLUTION_SECONDS);
                if grant.last_action_at.is_none_or(|at| at < stale_before) {
                    self.record_use(tenant, Used::User(grant.user_id), now, stale_before);
                }
                Ok(Principal::User {
                    tenant_id: tenant,
                    user_id: grant.user_id,
                    role: grant.role,
                })
            }
            PresentedToken::Other { hash } => {
                if let Some(principal) = self.verified.get(&hash, Timestamp::now()) {
                    return Ok(principal);
                }
                let ticket = self.verified.ticket();
                if self.store.is_operator_credential(&hash).await? {
                    self.verified.keep(&hash, Principal::Operator, None, ticket);
                    Ok(Principal::Operator)
                } else {
                    Err(ServiceError::Unauthorized)
                }
            }
        }
    }

    async fn authenticate_api_key(
        &self,
        tenant: TenantId,
        hash: &[u8],
    ) -> ServiceResult<Principal> {
        let key = self.verified_api_key(tenant, hash).await?;
        Ok(Self::acting_as(&key))
    }

    /// The usable API key whose secret hashes to `hash`, its use recorded.
    async fn verified_api_key(
        &self,
        tenant: TenantId,
        hash: &[u8],
    ) -> ServiceResult<crate::domain::ApiKey> {
        let key = self
            .store
            .find_api_key(tenant, hash)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let now = Timestamp::now();
        if !key.is_usable_at(now) {
            return Err(ServiceError::Unauthorized);
        }
        let stale_before = now.plus_seconds(-LAST_USED_RESOLUTION_SECONDS);
        if key.last_used_at.is_none_or(|at| at < stale_before) {
            self.record_use(key.tenant_id, Used::ApiKey(key.id), now, stale_before);
        }
        Ok(key)
    }

    /// Who acts with `key`.
    fn acting_as(key: &crate::domain::ApiKey) -> Principal {
        Principal::ApiKey {
            tenant_id: key.tenant_id,
            key_id: key.id,
            role: key.role,
        }
    }

    /// Exchanges a tenant API key's secret for a short-lived access token that acts
    /// as the key. Only a key's secret qualifies: not the operator credential, not
    /// another access token.
    pub async fn exchange_api_key(
        &self,
        secret: &str,
        client: ClientInfo,
    ) -> ServiceResult<IssuedAccessToken> {
        let PresentedToken::ApiKey { tenant, hash } = PresentedToken::parse(secret) else {
            return Err(ServiceError::Unauthorized);
        };
        let principal = self.authenticate_api_key(tenant, &hash).await?;
        let Principal::ApiKey { key_id, role, .. } = principal else {
            return Err(ServiceError::Unauthorized);
        };
        let scopes = ScopeRequest::default()
            .grant(role)
            .ok_or(ServiceError::Unauthorized)?;
        self.issue_access_token(&Caller { principal, client }, tenant, key_id, scopes)
            .await
    }

    /// An OAuth client: a tenant API key whose id is `client_id` and whose secret is
    /// `client_secret`.
    async fn authenticate_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> ServiceResult<(TenantId, ApiKeyId, Principal)> {
        let PresentedToken::ApiKey { tenant, hash } = PresentedToken::parse(client_secret) else {
            return Err(ServiceError::Unauthorized);
        };
        let principal = self.authenticate_api_key(tenant, &hash).await?;
        match principal {
            Principal::ApiKey { key_id, .. } if ApiKeyId::parse(client_id).ok() == Some(key_id) => {
                Ok((tenant, key_id, principal))
            }
            _ => Err(ServiceError::Unauthorized),
        }
    }

    /// OAuth 2.0 client credentials (RFC 6749 section 4.4): the client id is a tenant
    /// API key's id and the secret is the key's secret. Any mismatch is
    /// [`ServiceError::Unauthorized`]. The token is granted the scopes asked for that
    /// the key's role allows (all of those when none are asked for); when none of
    /// those asked for is allowed (a reader key asking only to write), it is
    /// [`ServiceError::Forbidden`], which the OAuth face answers `invalid_scope`.
    pub async fn exchange_client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        requested: &ScopeRequest,
        client: ClientInfo,
    ) -> ServiceResult<IssuedAccessToken> {
        let (tenant, key_id, principal) =
            self.authenticate_client(client_id, client_secret).await?;
        let Principal::ApiKey { role, .. } = principal else {
            return Err(ServiceError::Unauthorized);
        };
        let scopes = requested.grant(role).ok_or(ServiceError::Forbidden(
            "the client's key may not be granted the requested scope",
        ))?;
        self.issue_access_token(&Caller { principal, client }, tenant, key_id, scopes)
            .await
    }

    /// Revokes an access token issued to the client whose credentials are given
    /// (RFC 7009). A token that is unknown, already revoked, or another client's is
    /// left alone, and that is not an error.
    pub async fn revoke_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        token: &str,
        client: ClientInfo,
    ) -> ServiceResult<()> {
        let (tenant, key_id, principal) =
            self.authenticate_client(client_id, client_secret).await?;
        let PresentedToken::AccessToken {
            tenant: token_tenant,
            hash: token_hash,
        } = PresentedToken::parse(token)
        else {
            return Ok(());
        };
        if token_tenant != tenant {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        if tx
            .revoke_access_token(tenant, key_id, &token_hash, Timestamp::now())
            .await?
        {
            audit(
                &mut tx,
                &Caller { principal, client },
                tenant,
                Action::AccessTokenRevoke,
                (TargetKind::ApiKey, key_id.to_string()),
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        self.verified.forget_all();
        Ok(())
    }

    async fn issue_access_token(
        &self,
        caller: &Caller,
        tenant: TenantId,
        key: ApiKeyId,
        scopes: GrantedScopes,
    ) -> ServiceResult<IssuedAccessToken> {
        let now = Timestamp::now();
        let ttl = self.sign_in.token_ttl_seconds;
        let expires_at = now.plus_seconds(ttl);
        let token = generate_access_token(tenant);
        let mut tx = self.store.begin().await?;
        tx.insert_access_token(
            tenant,
            key,
            &sha256(&token),
            !scopes.can_write(),
            expires_at,
            now,
        )
        .await?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::AccessTokenIssue,
            (TargetKind::ApiKey, key.to_string()),
            json!({ "expiresAt": expires_at, "scope": scopes.to_scope_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedAccessToken {
            token: SecretString::from(token),
            expires_in_seconds: ttl,
            expires_at,
            scopes,
        })
    }

    /// Writes a credential's last use (a key's `lastUsedAt`, a user's last action)
    /// after the request that used it, off its path.
    fn record_use(&self, tenant: TenantId, used: Used, now: Timestamp, stale_before: Timestamp) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = async {
                let mut tx = store.begin().await?;
                match used {
                    Used::ApiKey(key) => tx.touch_api_key(tenant, key, now, stale_before).await?,
                    Used::User(user) => tx.record_action(tenant, user, now, stale_before).await?,
                }
                tx.commit().await
            }
            .await;
            if let Err(error) = result {
                tracing::warn!(%error, ?used, "could not record a credential's last use");
            }
        });
    }

    /// Makes sure an operator credential exists. With `bootstrap`, that exact string
    /// becomes the operator credential (replacing an earlier bootstrap token); without,
    /// one is generated when none exists, and returned so that it can be shown once.
    pub async fn ensure_operator_credential(
        &self,
        bootstrap: Option<&str>,
    ) -> ServiceResult<Option<String>> {
        let now = Timestamp::now();
        let mut tx = self.store.begin().await?;
        let generated = match bootstrap {
            Some(token) => {
                tx.replace_operator_credential(
                    OperatorCredentialSource::Bootstrap,
                    &sha256(token),
                    now,
                )
                .await?;
                None
            }
            None if tx.has_operator_credential().await? => None,
            None => {
                let secret = generate_operator_secret();
                tx.replace_operator_credential(
                    OperatorCredentialSource::Generated,
                    &sha256(&secret),
                    now,
                )
                .await?;
                Some(secret)
            }
        };
        tx.commit().await?;
        Ok(generated)
    }
}
