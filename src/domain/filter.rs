//! One filter language for the directory's lists: a tree of conditions on named
//! attributes, which a face parses from its own syntax (SCIM's filter grammar) and the
//! store renders as SQL. Nothing here knows either syntax.

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
    /// Compared as stored (case-exact attributes) or lower-cased (the others).
    Text(String),
    Bool(bool),
    Time(super::Timestamp),
    /// An object id; a text that is no id matches no object.
    Id(uuid::Uuid),
}

/// The user attributes a filter may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    Created,
    LastModified,
    /// The id of a group the user belongs to.
    GroupId,
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
    /// The id of a member.
    MemberId,
}
