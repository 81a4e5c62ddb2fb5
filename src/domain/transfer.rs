//! A directory brought in or taken out: the records an import reads, whatever the
//! file's format, and what it answers for each.

use super::{
    Email, FieldViolation, GroupId, GroupName, NewAttribute, NewGroup, NewUser, Timestamp, UserId,
};

/// One record of a directory being brought in, as any format reads it.
#[derive(Debug, Clone)]
pub enum Record {
    /// A declared attribute; one the tenant declares already is left as it is.
    Attribute(Box<NewAttribute>),
    Group(Box<GroupRecord>),
    User(Box<UserRecord>),
    /// One member of a group, named as the source names it.
    Member(MemberRecord),
    /// A record the format carries that an import does not bring in, and why.
    Skip(&'static str),
}

/// A user, matched to a stored one by its external id, else by its email.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The id a new user is made with, when it is free in the tenant (a Roster
    /// export's, or a UUID the source used); otherwise a new one.
    pub id: Option<UserId>,
    /// The id the source knows the user by, when members name it (SCIM).
    pub source_id: Option<String>,
    pub user: NewUser,
    /// When the source made the user; a new user keeps it.
    pub created_at: Option<Timestamp>,
    /// Groups (by name) the user is a direct member of; missing ones are made.
    pub groups: Vec<GroupName>,
    /// Its default group, which is one of `groups`.
    pub default_group: Option<GroupName>,
}

/// A group, matched to a stored one by its name.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub id: Option<GroupId>,
    pub source_id: Option<String>,
    pub group: NewGroup,
    pub created_at: Option<Timestamp>,
    /// Groups (by name) it is a direct member of; missing ones are made.
    pub parents: Vec<GroupName>,
}

/// A direct member of a group.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub group: GroupKey,
    pub member: MemberKey,
}

/// How a record names a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupKey {
    Name(GroupName),
    /// The id of a group record earlier in the same import.
    Source(String),
}

/// How a record names a member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemberKey {
    Group(GroupKey),
    UserEmail(Email),
    /// The id of a user record earlier in the same import.
    UserSource(String),
}

/// What kind of object a line brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Attribute,
    Group,
    User,
    Member,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Attribute => "attribute",
            RecordKind::Group => "group",
            RecordKind::User => "user",
            RecordKind::Member => "member",
        }
    }
}

/// What an import did with one line (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created { kind: RecordKind, id: uuid::Uuid },
    Updated { kind: RecordKind, id: uuid::Uuid },
    /// It matched a stored object that already is as the line says.
    Unchanged { kind: RecordKind, id: uuid::Uuid },
    Skipped { reason: String },
    /// Refused, each bad field with why; nothing of the line was written.
    Failed { errors: Vec<FieldViolation> },
}

impl Outcome {
    pub fn failed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Outcome::Failed {
            errors: vec![FieldViolation {
                field: field.into(),
                reason: reason.into(),
            }],
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// A line's number in its file (from 1) and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineOutcome {
    pub line: u64,
    pub outcome: Outcome,
}

/// How an import runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Report what would happen, writing nothing.
    pub dry_run: bool,
    /// All lines or none: the first refused line ends the import, and nothing of it
    /// stays.
    pub atomic: bool,
}

/// How many lines came to what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    pub lines: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl ImportSummary {
    pub fn count(&mut self, outcome: &Outcome) {
        self.lines += 1;
        match outcome {
            Outcome::Created { .. } => self.created += 1,
            Outcome::Updated { .. } => self.updated += 1,
            Outcome::Unchanged { .. } => self.unchanged += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Failed { .. } => self.failed += 1,
        }
    }
}
