//! One filter language for the directory's lists: a tree of conditions on named
//! attributes, which every face builds from its own syntax (SCIM's filter grammar,
//! v1's and the vendors' query parameters, a whole-tenant stream's `Constant(true)`)
//! and the store renders as SQL. Values are passed as written: the store folds the
//! letter case of case-insensitive attributes itself. Nothing here knows any syntax.

use super::{PageCursor, PageLimit};

/// A condition over objects whose attributes are named by `A`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<A> {
    /// Always (`true`) or never (`false`): a condition on a value every object shares,
    /// decided when the filter was read.
    Constant(bool),
    And(Box<Filter<A>>, Box<Filter<A>>),
    Or(Box<Filter<A>>, Box<Filter<A>>),
    Not(Box<Filter<A>>),
    /// The attribute has a value.
    Present(A),
    Compare(A, CompareOp, FilterValue),
    /// One and the same value of the multi-valued attribute of this SCIM name
    /// (`emails`) meets the condition, whose attributes are that value's parts (a
    /// SCIM value filter: `emails[type eq "work" and value co "@x"]`). Where the
    /// store keeps no such values, the condition's parts are tested one by one.
    AnyValue(&'static str, Box<Filter<A>>),
}

impl<A> Filter<A> {
    pub fn and(left: Self, right: Self) -> Self {
        Filter::And(Box::new(left), Box::new(right))
    }

    pub fn or(left: Self, right: Self) -> Self {
        Filter::Or(Box::new(left), Box::new(right))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Self) -> Self {
        Filter::Not(Box::new(inner))
    }

    /// Every one of `conditions` holds (`Constant(true)` when there are none).
    pub fn all(conditions: impl IntoIterator<Item = Self>) -> Self {
        conditions
            .into_iter()
            .reduce(Filter::and)
            .unwrap_or(Filter::Constant(true))
    }

    /// One of `conditions` holds (`Constant(false)` when there are none).
    pub fn any(conditions: impl IntoIterator<Item = Self>) -> Self {
        conditions
            .into_iter()
            .reduce(Filter::or)
            .unwrap_or(Filter::Constant(false))
    }
}

impl Filter<UserAttr> {
    /// The attribute equals `text` (as written; the store folds case where the
    /// attribute is case-insensitive).
    pub fn user_eq(attr: UserAttr, text: impl Into<String>) -> Self {
        Filter::Compare(attr, CompareOp::Eq, FilterValue::Text(text.into()))
    }

    /// The email, first name or last name starts with `prefix`, in any letter case.
    pub fn name_or_email_starts_with(prefix: &str) -> Self {
        Filter::any(
            [UserAttr::Email, UserAttr::FirstName, UserAttr::LastName].map(|attr| {
                Filter::Compare(attr, CompareOp::Sw, FilterValue::Text(prefix.to_owned()))
            }),
        )
    }

    /// Members of `group`: at any depth, or only its direct ones.
    pub fn member_of(group: super::GroupId, membership: super::Membership) -> Self {
        Filter::Compare(
            UserAttr::GroupId(membership),
            CompareOp::Eq,
            FilterValue::Id(group.as_uuid()),
        )
    }
}

/// The order of a list: by an attribute (resources without it last), then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<A> {
    pub attr: A,
    pub descending: bool,
}

/// How an attribute is compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The value a condition compares with, already of the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// As written: compared as stored for case-exact attributes; the store folds it
    /// for the others.
    Text(String),
    Bool(bool),
    Time(super::Timestamp),
    /// An object id; a text that is no id matches no object.
    Id(uuid::Uuid),
    /// A number (of a declared integer or decimal attribute).
    Number(f64),
}

/// An attribute the user's tenant declared, as a filter names it: the store finds
/// its values by `key` (the folded name) and compares them as `kind` and
/// `case_exact` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredAttr {
    pub key: String,
    pub kind: super::AttributeType,
    pub case_exact: bool,
}

impl DeclaredAttr {
    pub fn of(attribute: &super::AttributeDefinition) -> Self {
        Self {
            key: attribute.key(),
            kind: attribute.kind,
            case_exact: attribute.case_exact,
        }
    }
}

/// The user attributes a filter may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAttr {
    Id,
    /// The userName (the email unless the user has one of its own), compared
    /// case-insensitively.
    UserName,
    /// The email address, compared case-insensitively.
    Email,
    FirstName,
    LastName,
    ExternalId,
    Phone,
    Company,
    CountryCode,
    Role,
    /// Whether the status is active.
    Active,
    /// The status, by its wire name (`active`, `disabled`, `pending`).
    Status,
    Created,
    LastModified,
    /// The id of a group the user belongs to (directly, or at any depth).
    GroupId(super::Membership),
    /// The profile's single-valued texts, compared case-insensitively.
    DisplayName,
    NickName,
    Title,
    UserType,
    PreferredLanguage,
    Locale,
    Timezone,
    EmployeeNumber,
    CostCenter,
    Division,
    Department,
    /// The id of the user's manager.
    ManagerId,
    /// The `type` of any of the user's emails, phone numbers or addresses,
    /// compared case-insensitively.
    EmailType,
    PhoneType,
    AddressType,
    /// Any of the user's emails (the sign-in address among them), compared
    /// case-insensitively.
    EmailValue,
    /// Whether a value of the multi-valued attribute of this SCIM name (`emails`,
    /// `phoneNumbers`, `addresses`, `roles`) is marked primary.
    Primary(&'static str),
    /// An attribute the tenant declared; any of the user's values may match.
    Declared(DeclaredAttr),
}

/// The group attributes a filter may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttr {
    Id,
    /// The name, compared case-insensitively.
    Name,
    ExternalId,
    Created,
    LastModified,
    /// The id of a direct member: a user or a group.
    MemberId,
}

/// Which part of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A keyset page: up to `limit` items in id order after the cursor, and where the
    /// next page starts. Its cost does not grow with the list.
    After {
        after: Option<PageCursor>,
        limit: PageLimit,
    },
    /// A numbered window: `count` items in the list's order after skipping `offset`,
    /// and with `total`, how many match in all. The skipped rows are walked, so a
    /// window costs more the deeper it is.
    Numbered {
        offset: u64,
        count: u32,
        total: bool,
    },
}

impl Window {
    /// The first keyset page of `limit` items.
    pub fn first(limit: PageLimit) -> Self {
        Window::After { after: None, limit }
    }
}

/// What a user list brings with each user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    Nothing,
    /// The groups each user belongs to, in group id order.
    Groups,
}

/// A read of users: which ones, in which order, which part of the list, and what
/// with them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserQuery {
    pub filter: Filter<UserAttr>,
    /// The order of a numbered window (id order when `None`); keyset pages are always
    /// in id order.
    pub sort: Option<Sort<UserAttr>>,
    pub window: Window,
    pub include: Include,
}

impl UserQuery {
    /// A keyset page of the users matching `filter`, in id order, without groups.
    pub fn page(filter: Filter<UserAttr>, window: Window) -> Self {
        Self {
            filter,
            sort: None,
            window,
            include: Include::Nothing,
        }
    }

    pub fn with_groups(self) -> Self {
        Self {
            include: Include::Groups,
            ..self
        }
    }
}
