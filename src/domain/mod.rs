//! The directory's types and the rules that make a value valid.
//!
//! Nothing here performs I/O or knows about HTTP or SQL: values are made through
//! validating constructors (`parse`), so code holding an `Email` or a `UserId` may
//! rely on it being well formed.

mod api_key;
mod attribute;
mod audit;
mod change;
mod filter;
mod group;
mod hierarchy;
mod ids;
mod networks;
mod page;
mod profile;
mod scope;
mod tenant;
mod text;
mod time;
mod transfer;
mod user;
mod webhook;

pub use api_key::{ApiKey, ApiKeyRole, NewApiKey};
pub use attribute::{
    AttributeChange, AttributeDefinition, AttributeName, AttributeType, AttributeValue,
    AttributeValues, AttributeWrite, CUSTOM_USER_SCHEMA, MAX_ATTRIBUTES, Mutability, NewAttribute,
    Returned, apply_attribute_write, attribute_field, json_kind,
};
pub use audit::{
    Action, Actor, AuditEvent, ClientInfo, MAX_SUBJECT_CHARS, TargetKind, parse_subject_filter,
};
pub use change::{Change, ChangeType, FeedEvent};
pub use filter::{
    CompareOp, DeclaredAttr, Filter, FilterValue, GroupAttr, Include, Sort, UserAttr, UserQuery,
    Window,
};
pub use group::{
    Group, GroupOwner, GroupPatch, GroupsRelated, Member, MemberKind, MemberRef, Membership,
    NewGroup, parse_federated_values,
};
pub use hierarchy::{Cycle, Hierarchy, HierarchyChange, Reach};
pub use ids::{ApiKeyId, AuditEventId, GroupId, TenantId, UserId};
pub use networks::Networks;
pub use page::{NumberedPage, Page, PageCursor, PageLimit, PageRequest};
pub use profile::{
    ADDRESSES, Address, Enterprise, Manager, MultiValue, NameParts, Profile, ProfilePatch,
    ProfileText, ValueList,
};
pub use scope::{GrantedScopes, Scope, ScopeRequest};
pub use tenant::Tenant;
pub use text::{
    Company, CountryCode, Description, Email, ExternalId, GroupName, KeyName, PersonName, Phone,
    PrefixRange, TenantName, UserName, fold_case,
};
pub use time::Timestamp;
pub use transfer::{
    GroupKey, GroupRecord, ImportOptions, ImportSummary, LineOutcome, MemberKey, MemberRecord,
    Outcome, Record, RecordKind, UserRecord,
};
#[cfg(test)]
pub(crate) use user::imported_hash_fixtures;
pub use user::{
    ImportedHash, KeycloakCredential, LoginMetadata, NewPassword, NewUser, PasswordPolicy, Patch,
    Pbkdf2Digest, Pbkdf2Hash, Role, Status, User, UserPatch,
};
pub use webhook::{
    NewWebhook, Webhook, WebhookAttempt, WebhookPatch, WebhookUrl, parse_event_types,
};

pub use user::NewUserFields;

/// Why a single value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub reason: String,
}

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// A refused value together with the name under which the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub reason: String,
}

/// Collects every bad field of a request so that one reply can name them all.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when it is valid, records the reason under `field` when not.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.add(field, invalid.reason);
                None
            }
        }
    }

    /// Like [`Violations::check`] for an optional input.
    pub fn check_opt<T>(&mut self, field: &str, parsed: Option<Result<T, Invalid>>) -> Option<T> {
        parsed.and_then(|p| self.check(field, p))
    }

    pub fn add(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            reason: reason.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }

    /// `Ok(())` when nothing was recorded, else every violation.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
