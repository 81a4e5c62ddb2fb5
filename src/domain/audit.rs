use super::user::text_enum;
use super::{ApiKeyId, AuditEventId, Invalid, TenantId, Timestamp, UserId};

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The holder of the operator credential, over HTTP.
    Operator,
    /// The command line, run against the database directly.
    Cli,
    ApiKey(ApiKeyId),
    User(UserId),
    /// Someone not (yet) authenticated: a sign-in attempt.
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Operator => "operator",
            Actor::Cli => "cli",
            Actor::ApiKey(_) => "api_key",
            Actor::User(_) => "user",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Operator | Actor::Cli | Actor::Anonymous => None,
            Actor::ApiKey(id) => Some(id.to_string()),
            Actor::User(id) => Some(id.to_string()),
        }
    }
}

/// Where a request came from, as far as the server can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Tenant,
    User,
    Group,
    ApiKey,
    Attribute,
    Webhook,
}

text_enum!(TargetKind {
    Tenant = "tenant",
    User = "user",
    Group = "group",
    ApiKey = "api_key",
    Attribute = "attribute",
    Webhook = "webhook",
});

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    TenantCreate,
    TenantRename,
    UserCreate,
    UserUpdate,
    UserDelete,
    GroupCreate,
    GroupUpdate,
    GroupDelete,
    MemberAdd,
    MemberRemove,
    ApiKeyCreate,
    ApiKeyRevoke,
    AccessTokenIssue,
    AccessTokenRevoke,
    UserAccessKeyReset,
    UserPasswordSet,
    Login,
    Logout,
    UserUnlock,
    UserInvite,
    InvitationAccept,
    PasswordResetRequest,
    PasswordResetSend,
    PasswordReset,
    TwoFactorEnrol,
    TwoFactorEnable,
    TwoFactorDisable,
    RecoveryCodesRegenerate,
    AttributeDeclare,
    AttributeUpdate,
    AttributeDelete,
    /// Users an import made, a batch to an event.
    Import,
    /// A tenant taken out with its password hashes.
    ExportWithHashes,
    WebhookCreate,
    WebhookUpdate,
    WebhookDelete,
    WebhookSecretRotate,
    WebhookRedeliver,
}

text_enum!(Action {
    TenantCreate = "tenant.create",
    TenantRename = "tenant.rename",
    UserCreate = "user.create",
    UserUpdate = "user.update",
    UserDelete = "user.delete",
    GroupCreate = "group.create",
    GroupUpdate = "group.update",
    GroupDelete = "group.delete",
    MemberAdd = "group.member.add",
    MemberRemove = "group.member.remove",
    ApiKeyCreate = "api_key.create",
    ApiKeyRevoke = "api_key.revoke",
    AccessTokenIssue = "access_token.issue",
    AccessTokenRevoke = "access_token.revoke",
    UserAccessKeyReset = "user.access_key.reset",
    UserPasswordSet = "user.password.set",
    Login = "auth.login",
    Logout = "auth.logout",
    UserUnlock = "user.unlock",
    UserInvite = "user.invite",
    InvitationAccept = "user.invitation.accept",
    PasswordResetRequest = "user.password_reset.request",
    PasswordResetSend = "user.password_reset.send",
    PasswordReset = "user.password_reset",
    TwoFactorEnrol = "user.two_factor.enrol",
    TwoFactorEnable = "user.two_factor.enable",
    TwoFactorDisable = "user.two_factor.disable",
    RecoveryCodesRegenerate = "user.recovery_codes.regenerate",
    AttributeDeclare = "attribute.declare",
    AttributeUpdate = "attribute.update",
    AttributeDelete = "attribute.delete",
    Import = "directory.import",
    ExportWithHashes = "directory.export_with_hashes",
    WebhookCreate = "webhook.create",
    WebhookUpdate = "webhook.update",
    WebhookDelete = "webhook.delete",
    WebhookSecretRotate = "webhook.secret.rotate",
    WebhookRedeliver = "webhook.redeliver",
});

/// One entry of a tenant's audit log. It never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub tenant_id: TenantId,
    pub occurred_at: Timestamp,
    pub actor: Actor,
    pub action: Action,
    pub target_kind: TargetKind,
    pub target_id: String,
    pub client: ClientInfo,
    /// What changed, by field name; values only where they are not secret.
    pub details: serde_json::Value,
}

/// The longest actor or target id a filter of the audit log may name.
pub const MAX_SUBJECT_CHARS: usize = 320;

/// An actor's or target's id as a filter of the audit log names it (an id, or the
/// email a failed sign-in named): 1 to [`MAX_SUBJECT_CHARS`] characters, none of them
/// a control character, so that no filter can hold what the store cannot compare.
pub fn parse_subject_filter(s: String) -> Result<String, Invalid> {
    let len = s.chars().count();
    if len == 0 || len > MAX_SUBJECT_CHARS || s.chars().any(char::is_control) {
        return Err(Invalid::new(format!(
            "must be 1 to {MAX_SUBJECT_CHARS} characters, none of them a control character"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_filter_subject_is_printable_and_bounded() {
        assert!(parse_subject_filter("user@example.com".into()).is_ok());
        for bad in [String::new(), "a\u{0}b".into(), "x".repeat(321)] {
            assert!(parse_subject_filter(bad).is_err());
        }
    }
}
