//! The one filter tree ([`Filter`]) rendered as SQL for every list of users and
//! groups, whichever face asked: keyset pages, numbered windows with a total, and
//! whole-tenant chunks. The store owns normalisation: values come as written, and
//! case-insensitive attributes are folded here to match their `*_key` columns.
//! Every statement is bounded to one tenant by the leading `tenant_id` of an index.
//!
//! A tenant's whole lists cost the same at any size: their totals are the tenant's
//! kept counts ([`super::counts`]), and a numbered window of all its users in id
//! order is a keyset page after the nearest start [`super::positions`] remembers.

use crate::domain::{
    CompareOp, DeclaredAttr, Filter, FilterValue, Group, GroupAttr, Membership, PrefixRange, Sort,
    TenantId, User, UserAttr, UserQuery, Window, fold_case,
};

use super::groups::{GroupRow, SELECT_GROUPS, into_groups};
use super::sql::{Sql, Value, bind_values};
use super::users::{SELECT_USERS, UserRow, into_users};
use super::{Backend, Store, StoreResult, read};

/// Appends a parameter and answers its placeholder, for values a clause names twice.
fn param(sql: &mut Sql, value: Value) -> String {
    sql.values.push(value);
    format!("${}", sql.values.len())
}

/// What kind of column an attribute is stored in, and so how its values compare.
enum Column {
    /// Text compared as stored.
    Text(&'static str),
    /// Lower-cased text in "C" (byte) order with an index led by `tenant_id`: a value
    /// is folded to match, and a prefix is searched as a range of the index.
    Key(&'static str),
    /// Lower-cased text without such an index: a value is folded to match.
    Folded(&'static str),
    /// Upper-cased text (country codes): a value is upper-cased to match.
    Upper(&'static str),
    Id(&'static str),
    Time(&'static str),
    /// A nullable flag: unset reads as false.
    Flag(&'static str),
}

impl Column {
    fn name(&self) -> &'static str {
        match self {
            Column::Text(c)
            | Column::Key(c)
            | Column::Folded(c)
            | Column::Upper(c)
            | Column::Id(c)
            | Column::Time(c)
            | Column::Flag(c) => c,
        }
    }
}

/// `column` starts with `prefix` (folded), as a range of the column's index:
/// `column >= prefix AND column < next`, where `next` is the first text above every
/// text with the prefix. The same rows as `substr`, found by an index search.
fn render_prefix_range(sql: &mut Sql, column: &str, prefix: &str) {
    let range = PrefixRange::of(prefix);
    sql.push("(")
        .push(column)
        .push(" >= ")
        .bind(Value::Text(range.lower));
    if let Some(upper) = range.upper {
        sql.push(" AND ")
            .push(column)
            .push(" < ")
            .bind(Value::Text(upper));
    }
    sql.push(")");
}

fn render_text(sql: &mut Sql, column: &str, op: CompareOp, value: &str) {
    if value.is_empty() && matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        // Every value contains, starts and ends with the empty text.
        sql.push("(").push(column).push(" IS NOT NULL)");
        return;
    }
    let p = param(sql, Value::Text(value.to_owned()));
    // Both dialects' substr, length and replace compare case-exactly, as the
    // *_key columns and the lower-cased values of case-insensitive attributes need.
    let clause = match op {
        CompareOp::Eq => format!("{column} = {p}"),
        CompareOp::Ne => format!("({column} IS NULL OR {column} <> {p})"),
        CompareOp::Co => format!("replace({column}, {p}, '') <> {column}"),
        CompareOp::Sw => format!("substr({column}, 1, length({p})) = {p}"),
        CompareOp::Ew => format!(
            "(length({column}) >= length({p}) AND \
             substr({column}, length({column}) - length({p}) + 1) = {p})"
        ),
        CompareOp::Gt => format!("{column} > {p}"),
        CompareOp::Ge => format!("{column} >= {p}"),
        CompareOp::Lt => format!("{column} < {p}"),
        CompareOp::Le => format!("{column} <= {p}"),
    };
    sql.push("(").push(&clause).push(")");
}

fn operator(op: CompareOp) -> Option<&'static str> {
    match op {
        CompareOp::Eq => Some(" = "),
        CompareOp::Ne => Some(" <> "),
        CompareOp::Gt => Some(" > "),
        CompareOp::Ge => Some(" >= "),
        CompareOp::Lt => Some(" < "),
        CompareOp::Le => Some(" <= "),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
    }
}

/// Renders a comparison on a column; a comparison the column's type does not
/// support (refused by the face before it gets here) matches nothing.
fn render_compare(sql: &mut Sql, column: Column, op: CompareOp, value: &FilterValue) {
    match (column, value) {
        (Column::Text(column), FilterValue::Text(text)) => render_text(sql, column, op, text),
        (Column::Key(column), FilterValue::Text(text))
            if op == CompareOp::Sw && !text.is_empty() =>
        {
            render_prefix_range(sql, column, text)
        }
        (Column::Key(column) | Column::Folded(column), FilterValue::Text(text)) => {
            render_text(sql, column, op, &fold_case(text))
        }
        (Column::Upper(column), FilterValue::Text(text)) => {
            render_text(sql, column, op, &text.to_ascii_uppercase())
        }
        (Column::Id(column), FilterValue::Id(id))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            sql.push(column)
                .push(operator(op).unwrap_or(" = "))
                .bind(Value::Uuid(*id));
        }
        (Column::Flag(column), FilterValue::Bool(wanted))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            let set = (op == CompareOp::Eq) == *wanted;
            sql.push("(").push(column);
            if set {
                sql.push(" = ").bind(Value::OptBool(Some(true)));
            } else {
                sql.push(" IS NULL OR ")
                    .push(column)
                    .push(" = ")
                    .bind(Value::OptBool(Some(false)));
            }
            sql.push(")");
        }
        (Column::Time(column), FilterValue::Time(at)) => match operator(op) {
            Some(symbol) => {
                sql.push(column).push(symbol).bind(Value::Time(*at));
            }
            None => {
                sql.push("1 = 0");
            }
        },
        _ => {
            sql.push("1 = 0");
        }
    }
}

fn render_present(sql: &mut Sql, column: Column) {
    match column {
        Column::Id(column) | Column::Time(column) | Column::Flag(column) => {
            sql.push("(").push(column).push(" IS NOT NULL)")
        }
        text => {
            let column = text.name();
            sql.push("(")
                .push(column)
                .push(" IS NOT NULL AND ")
                .push(column)
                .push(" <> '')")
        }
    };
}

/// How the conditions of a filter on objects whose attributes are named by `A` are
/// rendered.
trait Leaves<A> {
    /// One attribute's condition: a comparison, or presence when `None`.
    fn leaf(&self, sql: &mut Sql, attr: &A, comparison: Option<(CompareOp, &FilterValue)>);

    /// `condition` met by one value of the multi-valued attribute `list`; by
    /// default, its parts each met by some value.
    fn any_value(&self, sql: &mut Sql, list: &'static str, condition: &Filter<A>) {
        let _ = list;
        render_with(sql, condition, self);
    }
}

/// The users' conditions, each its own search.
struct UserLeaves {
    tenant: TenantId,
    /// Whether the filter names one user by a unique key (its id, email or
    /// userName) besides its other conditions: a membership is then checked for
    /// that user (one key lookup) rather than by reading the group's members.
    one_user: bool,
}

impl UserLeaves {
    fn of(tenant: TenantId, filter: &Filter<UserAttr>) -> Self {
        let one_user = conjuncts(filter).into_iter().any(|f| {
            matches!(
                f,
                Filter::Compare(
                    UserAttr::Id | UserAttr::Email | UserAttr::UserName,
                    CompareOp::Eq,
                    _
                )
            )
        });
        UserLeaves { tenant, one_user }
    }
}

/// The conditions that must all hold for `filter` to hold.
fn conjuncts<A>(filter: &Filter<A>) -> Vec<&Filter<A>> {
    match filter {
        Filter::And(left, right) => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        other => vec![other],
    }
}

/// The group whose members a filter asks for, when that is all it asks.
fn only_members_of(filter: &Filter<UserAttr>) -> Option<(Membership, uuid::Uuid)> {
    match filter {
        Filter::Compare(UserAttr::GroupId(membership), CompareOp::Eq, FilterValue::Id(group)) => {
            Some((*membership, *group))
        }
        _ => None,
    }
}

impl Leaves<UserAttr> for UserLeaves {
    fn leaf(&self, sql: &mut Sql, attr: &UserAttr, comparison: Option<(CompareOp, &FilterValue)>) {
        match (attr, comparison) {
            (UserAttr::GroupId(membership), Some((op, FilterValue::Id(group))))
                if self.one_user && matches!(op, CompareOp::Eq | CompareOp::Ne) =>
            {
                if op == CompareOp::Ne {
                    sql.push("NOT ");
                }
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM {} m WHERE m.tenant_id = u.tenant_id \
                     AND m.group_id = ",
                    membership_table(*membership)
                ))
                .bind(Value::Uuid(*group))
                .push(" AND m.user_id = u.id)");
            }
            _ => user_leaf(sql, self.tenant, attr, comparison),
        }
    }

    /// The users holding one stored value (`user_values` row) that meets the whole
    /// condition, read from the values' index.
    fn any_value(&self, sql: &mut Sql, list: &'static str, condition: &Filter<UserAttr>) {
        if !matches!(list, "emails" | "phoneNumbers" | "addresses" | "roles") {
            render_with(sql, condition, self);
            return;
        }
        sql.push("u.id IN (SELECT v.user_id FROM user_values v WHERE v.tenant_id = ")
            .bind(Value::Uuid(self.tenant.as_uuid()))
            .push(" AND v.attribute = ")
            .bind(Value::Text(list.to_owned()))
            .push(" AND ");
        render_with(sql, condition, &ValueRowLeaves { users: self, list });
        sql.push(")");
    }
}

/// The conditions on the parts of one stored value `v` of the attribute `list`;
/// any other condition is the user's own.
struct ValueRowLeaves<'a> {
    users: &'a UserLeaves,
    list: &'static str,
}

impl Leaves<UserAttr> for ValueRowLeaves<'_> {
    fn leaf(&self, sql: &mut Sql, attr: &UserAttr, comparison: Option<(CompareOp, &FilterValue)>) {
        if user_values_of(attr) != Some(self.list) {
            return self.users.leaf(sql, attr, comparison);
        }
        match comparison {
            None => render_present(sql, user_column(attr)),
            Some((op, value)) => render_compare(sql, user_column(attr), op, value),
        }
    }
}

/// The groups' conditions.
struct GroupLeaves;

impl Leaves<GroupAttr> for GroupLeaves {
    fn leaf(&self, sql: &mut Sql, attr: &GroupAttr, comparison: Option<(CompareOp, &FilterValue)>) {
        group_leaf(sql, attr, comparison);
    }
}

/// The operands of a chain of one operator (`a AND b AND c`), however the tree
/// groups them, left to right; gathered without recursion.
fn chain<A>(filter: &Filter<A>, and: bool) -> Vec<&Filter<A>> {
    let mut operands = Vec::new();
    let mut pending = vec![filter];
    while let Some(next) = pending.pop() {
        match (next, and) {
            (Filter::And(left, right), true) | (Filter::Or(left, right), false) => {
                pending.push(right);
                pending.push(left);
            }
            (operand, _) => operands.push(operand),
        }
    }
    operands
}

/// Renders the tree, calling `leaf` for each attribute condition. A chain of one
/// operator is one flat list (`(a AND b AND c)`), so the SQL nests only where the
/// filter does: the text's depth follows the filter's nesting, not its length.
fn render_with<A, L: Leaves<A> + ?Sized>(sql: &mut Sql, filter: &Filter<A>, leaves: &L) {
    match filter {
        Filter::Constant(true) => {
            sql.push("1 = 1");
        }
        Filter::Constant(false) => {
            sql.push("1 = 0");
        }
        Filter::And(..) | Filter::Or(..) => {
            let and = matches!(filter, Filter::And(..));
            let joint = if and { " AND " } else { " OR " };
            sql.push("(");
            for (i, operand) in chain(filter, and).into_iter().enumerate() {
                if i > 0 {
                    sql.push(joint);
                }
                render_with(sql, operand, leaves);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT (");
            render_with(sql, inner, leaves);
            sql.push(")");
        }
        Filter::Present(attr) => leaves.leaf(sql, attr, None),
        Filter::Compare(attr, op, value) => leaves.leaf(sql, attr, Some((*op, value))),
        Filter::AnyValue(list, condition) => leaves.any_value(sql, list, condition),
    }
}

/// The column of a user attribute stored in one (every attribute but the
/// memberships and the declared ones, which [`user_leaf`] renders itself).
fn user_column(attr: &UserAttr) -> Column {
    match attr {
        UserAttr::Id => Column::Id("u.id"),
        UserAttr::UserName => Column::Key("u.user_name_key"),
        UserAttr::Email => Column::Key("u.email_key"),
        UserAttr::FirstName => Column::Key("u.first_name_key"),
        UserAttr::LastName => Column::Key("u.last_name_key"),
        UserAttr::ExternalId => Column::Text("u.external_id"),
        // Folded like the other values: phone numbers have no letter case that matters.
        UserAttr::Phone => Column::Key("v.value_key"),
        UserAttr::Company => Column::Text("u.organization"),
        UserAttr::CountryCode => Column::Upper("upper(v.country)"),
        UserAttr::Role => Column::Folded("u.role"),
        UserAttr::Active | UserAttr::Status => Column::Text("u.status"),
        UserAttr::Created => Column::Time("u.created_at"),
        UserAttr::LastModified => Column::Time("u.updated_at"),
        UserAttr::GroupId(_) => Column::Id("m.group_id"),
        UserAttr::Declared(_) => Column::Text("NULL"),
        UserAttr::DisplayName => Column::Key("u.display_name_key"),
        // Compared case-insensitively: the store folds both the value and the column.
        UserAttr::NickName => Column::Folded("lower(u.nick_name)"),
        UserAttr::Title => Column::Folded("lower(u.title)"),
        UserAttr::UserType => Column::Folded("lower(u.user_type)"),
        UserAttr::PreferredLanguage => Column::Folded("lower(u.preferred_language)"),
        UserAttr::Locale => Column::Folded("lower(u.locale)"),
        UserAttr::Timezone => Column::Folded("lower(u.timezone)"),
        UserAttr::EmployeeNumber => Column::Folded("lower(u.employee_number)"),
        UserAttr::CostCenter => Column::Folded("lower(u.cost_center)"),
        UserAttr::Division => Column::Folded("lower(u.division)"),
        UserAttr::Department => Column::Folded("lower(u.department)"),
        UserAttr::ManagerId => Column::Id("u.manager_id"),
        UserAttr::EmailType | UserAttr::PhoneType | UserAttr::AddressType => {
            Column::Folded("lower(v.type)")
        }
        UserAttr::EmailValue => Column::Key("v.value_key"),
        UserAttr::Primary(_) => Column::Flag("v.is_primary"),
    }
}

/// The multi-valued attribute whose rows hold a value attribute, if it is one.
fn user_values_of(attr: &UserAttr) -> Option<&'static str> {
    match attr {
        UserAttr::Phone | UserAttr::PhoneType => Some("phoneNumbers"),
        UserAttr::CountryCode | UserAttr::AddressType => Some("addresses"),
        UserAttr::EmailType | UserAttr::EmailValue => Some("emails"),
        UserAttr::Primary(list) => Some(list),
        _ => None,
    }
}

/// A condition on a declared attribute: the users holding a value that matches, read
/// from the values' index (tenant, attribute, value) — or (tenant, attribute,
/// number) for ordered comparisons of numbers and times — so that a selective
/// condition does not walk the tenant's users. Any of a multi-valued attribute's
/// values may match; `ne` matches the users holding no equal value.
fn declared_leaf(
    sql: &mut Sql,
    tenant: TenantId,
    attr: &DeclaredAttr,
    comparison: Option<(CompareOp, &FilterValue)>,
) {
    let negated = matches!(comparison, Some((CompareOp::Ne, _)));
    sql.push(if negated { "u.id NOT IN " } else { "u.id IN " })
        .push("(SELECT v.user_id FROM attribute_values v WHERE v.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND v.name_key = ")
        .bind(Value::Text(attr.key.clone()));
    let op = |op: CompareOp| {
        if op == CompareOp::Ne {
            CompareOp::Eq
        } else {
            op
        }
    };
    match comparison {
        None => {}
        Some((compare, FilterValue::Text(text))) => {
            let text = if attr.case_exact {
                text.clone()
            } else {
                fold_case(text)
            };
            sql.push(" AND ");
            if compare == CompareOp::Sw && !text.is_empty() {
                render_prefix_range(sql, "v.value_key", &text);
            } else {
                render_text(sql, "v.value_key", op(compare), &text);
            }
        }
        Some((CompareOp::Eq | CompareOp::Ne, FilterValue::Bool(b))) => {
            sql.push(" AND v.value_key = ")
                .bind(Value::Text(b.to_string()));
        }
        Some((compare, FilterValue::Number(n))) => match operator(op(compare)) {
            Some(symbol) => {
                sql.push(" AND v.number")
                    .push(symbol)
                    .bind(Value::Float(Some(*n)));
            }
            None => {
                sql.push(" AND 1 = 0");
            }
        },
        Some((compare, FilterValue::Time(at))) => match operator(op(compare)) {
            Some(symbol) => {
                #[allow(clippy::cast_precision_loss)] // epoch milliseconds, far below 2^53
                let millis = at.millis() as f64;
                sql.push(" AND v.number")
                    .push(symbol)
                    .bind(Value::Float(Some(millis)));
            }
            None => {
                sql.push(" AND 1 = 0");
            }
        },
        Some(_) => {
            sql.push(" AND 1 = 0");
        }
    }
    sql.push(")");
}

fn user_leaf(
    sql: &mut Sql,
    tenant: TenantId,
    attr: &UserAttr,
    comparison: Option<(CompareOp, &FilterValue)>,
) {
    match (attr, comparison) {
        (UserAttr::Declared(declared), comparison) => {
            declared_leaf(sql, tenant, declared, comparison)
        }
        (UserAttr::Active, None) => {
            sql.push("1 = 1");
        }
        (UserAttr::Active, Some((op, value))) => {
            let wanted = matches!(value, FilterValue::Bool(true));
            let active = match op {
                CompareOp::Eq => wanted,
                CompareOp::Ne => !wanted,
                _ => {
                    sql.push("1 = 0");
                    return;
                }
            };
            sql.push(if active {
                "u.status = 'active'"
            } else {
                "u.status <> 'active'"
            });
        }
        (UserAttr::GroupId(membership), None) => {
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM {} m \
                 WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id)",
                membership_table(*membership)
            ));
        }
        (UserAttr::GroupId(membership), Some((op, FilterValue::Id(id))))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            // The group's members, read from the memberships' primary key (tenant,
            // group, user): a small group of a large tenant is found without walking
            // the tenant's users.
            sql.push(if op == CompareOp::Eq {
                "u.id IN "
            } else {
                "u.id NOT IN "
            })
            .push(&format!(
                "(SELECT m.user_id FROM {} m WHERE m.tenant_id = ",
                membership_table(*membership)
            ))
            .bind(Value::Uuid(tenant.as_uuid()))
            .push(" AND m.group_id = ")
            .bind(Value::Uuid(*id))
            .push(")");
        }
        (UserAttr::GroupId(_), Some(_)) => {
            sql.push("1 = 0");
        }
        (attr, comparison) if user_values_of(attr).is_some() => {
            // Some value of the user's list matches: the users holding one, read from
            // the values' index (tenant, attribute, value_key).
            let list = user_values_of(attr).unwrap_or_default();
            sql.push("u.id IN (SELECT v.user_id FROM user_values v WHERE v.tenant_id = ")
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND v.attribute = ")
                .bind(Value::Text(list.to_owned()))
                .push(" AND ");
            match comparison {
                None => render_present(sql, user_column(attr)),
                Some((op, value)) => render_compare(sql, user_column(attr), op, value),
            }
            sql.push(")");
        }
        (attr, None) => render_present(sql, user_column(attr)),
        (attr, Some((op, value))) => render_compare(sql, user_column(attr), op, value),
    }
}

fn group_column(attr: &GroupAttr) -> Column {
    match attr {
        GroupAttr::Id => Column::Id("g.id"),
        GroupAttr::Name => Column::Key("g.name_key"),
        GroupAttr::ExternalId => Column::Text("g.external_id"),
        GroupAttr::Created => Column::Time("g.created_at"),
        GroupAttr::LastModified => Column::Time("g.updated_at"),
        GroupAttr::MemberId => Column::Id("m.user_id"),
    }
}

/// The table of direct or of effective memberships.
fn membership_table(membership: Membership) -> &'static str {
    match membership {
        Membership::Direct => "memberships",
        Membership::Effective => "effective_memberships",
    }
}

fn group_leaf(sql: &mut Sql, attr: &GroupAttr, comparison: Option<(CompareOp, &FilterValue)>) {
    // A direct member is a user (memberships) or a group (group_members).
    const USERS: &str = "EXISTS (SELECT 1 FROM memberships m \
        WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id";
    const GROUPS: &str = "EXISTS (SELECT 1 FROM group_members s \
        WHERE s.tenant_id = g.tenant_id AND s.group_id = g.id";
    match (attr, comparison) {
        (GroupAttr::MemberId, None) => {
            sql.push("(")
                .push(USERS)
                .push(") OR ")
                .push(GROUPS)
                .push("))");
        }
        (GroupAttr::MemberId, Some((op, FilterValue::Id(id))))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            if op == CompareOp::Ne {
                sql.push("NOT ");
            }
            sql.push("(")
                .push(USERS)
                .push(" AND m.user_id = ")
                .bind(Value::Uuid(*id))
                .push(") OR ")
                .push(GROUPS)
                .push(" AND s.member_id = ")
                .bind(Value::Uuid(*id))
                .push("))");
        }
        (GroupAttr::MemberId, Some(_)) => {
            sql.push("1 = 0");
        }
        (attr, None) => render_present(sql, group_column(attr)),
        (attr, Some((op, value))) => render_compare(sql, group_column(attr), op, value),
    }
}

/// `ORDER BY`: the sort column (rows without a value last), then the id.
fn order_by(sql: &mut Sql, sort: Option<Column>, descending: bool, id: &str) {
    sql.push(" ORDER BY ");
    if let Some(column) = sort.map(|c| c.name()) {
        let direction = if descending { " DESC" } else { " ASC" };
        sql.push("(")
            .push(column)
            .push(" IS NULL), ")
            .push(column)
            .push(direction)
            .push(", ");
    }
    sql.push(id);
}

/// The column a sort orders by; sorting by membership, by a multi-valued attribute
/// or by a declared attribute is not offered.
fn user_sort_column(sort: Option<&Sort<UserAttr>>) -> Option<Column> {
    sort.filter(|s| {
        !matches!(s.attr, UserAttr::GroupId(_) | UserAttr::Declared(_))
            && user_values_of(&s.attr).is_none()
    })
    .map(|s| user_column(&s.attr))
}

fn group_sort_column(sort: Option<Sort<GroupAttr>>) -> Option<Column> {
    sort.filter(|s| s.attr != GroupAttr::MemberId)
        .map(|s| group_column(&s.attr))
}

/// The statement of a user list: `SELECT … WHERE tenant AND filter`, then for a
/// keyset page `AND id > after ORDER BY id LIMIT limit + 1` (the extra row tells that
/// another page follows), for a numbered window `ORDER BY sort, id LIMIT count
/// OFFSET offset`; or, with `window` `None`, the count of the matching users.
pub(super) fn user_query(
    tenant: TenantId,
    filter: &Filter<UserAttr>,
    sort: Option<&Sort<UserAttr>>,
    window: Option<Window>,
) -> Sql {
    if let Some((membership, group)) = only_members_of(filter)
        && sort.is_none()
    {
        return members_query(tenant, membership, group, window);
    }
    users_where(tenant, filter, sort, window, None)
}

/// The users of `window` (else their count) matching `filter`, searched in the
/// filter's indexes or, with `walk`, tested on each user in id order up to its end.
fn users_where(
    tenant: TenantId,
    filter: &Filter<UserAttr>,
    sort: Option<&Sort<UserAttr>>,
    window: Option<Window>,
    walk: Option<Walk>,
) -> Sql {
    let mut sql = Sql::new(match window {
        Some(_) => SELECT_USERS,
        None => "SELECT COUNT(*) FROM users u",
    });
    sql.push(" WHERE u.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()));
    match walk {
        None => {
            sql.push(" AND ");
            render_with(&mut sql, filter, &UserLeaves::of(tenant, filter));
        }
        Some(Walk { until }) => {
            if let Some(until) = until {
                sql.push(" AND u.id <= ").bind(Value::Uuid(until));
            }
            // SQLite's unary plus keeps the filter out of the plan: it is tested
            // on each user of the walk in id order, never searched in an index.
            sql.push(" AND +(");
            render_with(&mut sql, filter, &UserLeaves::of(tenant, filter));
            sql.push(")");
        }
    }
    match window {
        None => {}
        Some(Window::After { after, limit }) => {
            if let Some(after) = after {
                sql.push(" AND u.id > ").bind(Value::Uuid(after.last_id()));
            }
            sql.push(" ORDER BY u.id LIMIT ")
                .bind(Value::Int(i64::from(limit.get()) + 1));
        }
        Some(Window::Numbered { offset, count, .. }) => {
            let descending = sort.is_some_and(|s| s.descending);
            order_by(&mut sql, user_sort_column(sort), descending, "u.id");
            sql.push(" LIMIT ")
                .bind(Value::Int(i64::from(count)))
                .push(" OFFSET ")
                .bind(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        }
    }
    sql
}

/// The statement of a list of a group's members and nothing else: the window is
/// found in the membership table's key (tenant, group, user), and only its users are
/// read, by primary key, so that a page costs the same at any depth of a list of
/// any size; the count is the group's rows of the table alone.
fn members_query(
    tenant: TenantId,
    membership: Membership,
    group: uuid::Uuid,
    window: Option<Window>,
) -> Sql {
    let table = membership_table(membership);
    let members = |sql: &mut Sql| {
        sql.push(&format!(
            "SELECT m.user_id FROM {table} m WHERE m.tenant_id = "
        ))
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND m.group_id = ")
        .bind(Value::Uuid(group));
    };
    let Some(window) = window else {
        let mut sql = Sql::new("SELECT COUNT(*) FROM (");
        members(&mut sql);
        sql.push(") c");
        return sql;
    };
    let mut sql = Sql::new(SELECT_USERS);
    sql.push(" WHERE u.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND u.id IN (");
    members(&mut sql);
    let (limit, offset) = match window {
        Window::After { after, limit } => {
            if let Some(after) = after {
                sql.push(" AND m.user_id > ")
                    .bind(Value::Uuid(after.last_id()));
            }
            (i64::from(limit.get()) + 1, 0)
        }
        Window::Numbered { offset, count, .. } => {
            (i64::from(count), i64::try_from(offset).unwrap_or(i64::MAX))
        }
    };
    sql.push(" ORDER BY m.user_id LIMIT ")
        .bind(Value::Int(limit))
        .push(" OFFSET ")
        .bind(Value::Int(offset))
        .push(") ORDER BY u.id");
    sql
}

fn group_query(
    tenant: TenantId,
    filter: &Filter<GroupAttr>,
    sort: Option<Sort<GroupAttr>>,
    window: Option<(u64, u32)>,
) -> Sql {
    let mut sql = Sql::new(match window {
        Some(_) => SELECT_GROUPS,
        None => "SELECT COUNT(*) FROM groups g",
    });
    sql.push(" WHERE g.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND ");
    render_with(&mut sql, filter, &GroupLeaves);
    if let Some((offset, limit)) = window {
        let descending = sort.is_some_and(|s| s.descending);
        order_by(&mut sql, group_sort_column(sort), descending, "g.id");
        sql.push(" LIMIT ")
            .bind(Value::Int(i64::from(limit)))
            .push(" OFFSET ")
            .bind(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    }
    sql
}

/// A walk of the tenant's users in id order, up to and including `until` (else to
/// the end), for a filter that matches many of them.
#[derive(Debug, Clone, Copy)]
struct Walk {
    until: Option<uuid::Uuid>,
}

/// Whether at least `enough` users after `after` match `filter`: counted in the
/// filter's indexes, and only up to `enough`.
fn matches_at_least(
    tenant: TenantId,
    filter: &Filter<UserAttr>,
    after: Option<uuid::Uuid>,
    enough: u64,
) -> Sql {
    let mut sql = Sql::new("SELECT COUNT(*) >= ");
    sql.bind(Value::Int(i64::try_from(enough).unwrap_or(i64::MAX)))
        .push(" FROM (SELECT 1 FROM users u WHERE u.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND ");
    render_with(&mut sql, filter, &UserLeaves::of(tenant, filter));
    if let Some(after) = after {
        sql.push(" AND u.id > ").bind(Value::Uuid(after));
    }
    sql.push(" LIMIT ")
        .bind(Value::Int(i64::try_from(enough).unwrap_or(i64::MAX)))
        .push(") m");
    sql
}

/// Fewer matches than this (or than a window needs) are found in a filter's indexes
/// and sorted, which costs less than any walk.
const MANY: u64 = 100;

/// Whether `filter` matches one user at most: it asks for the value of a unique key
/// (a point read, or a provisioning client's `userName eq` lookup).
fn at_most_one(filter: &Filter<UserAttr>) -> bool {
    chain(filter, true).into_iter().any(|operand| {
        matches!(
            operand,
            Filter::Compare(
                UserAttr::Id | UserAttr::UserName | UserAttr::Email,
                CompareOp::Eq,
                _
            )
        )
    })
}

/// How many users in id order a filtered window that needs `wanted` matches walks
/// in a tenant of `users` before it searches the filter's indexes instead:
/// √(wanted × users). A filter that matches one user in `users / reach` or more
/// fills the window within it; one that matches fewer has fewer than `reach`
/// matches in all to sort. Either way a window costs about √(wanted × users) rows
/// at most, not the tenant.
fn walk_reach(wanted: u64, users: u64) -> u64 {
    wanted.saturating_mul(users).isqrt().max(wanted)
}

/// The id of the `skip`th user (`skip` ≥ 1) after `after` (else from the beginning)
/// in id order, found in the narrow index of ids alone.
fn skip_query(tenant: TenantId, after: Option<uuid::Uuid>, skip: u64) -> Sql {
    let mut sql = Sql::new("SELECT u.id FROM users u WHERE u.tenant_id = ");
    sql.bind(Value::Uuid(tenant.as_uuid()));
    if let Some(after) = after {
        sql.push(" AND u.id > ").bind(Value::Uuid(after));
    }
    sql.push(" ORDER BY u.id LIMIT 1 OFFSET ")
        .bind(Value::Int(i64::try_from(skip - 1).unwrap_or(i64::MAX)));
    sql
}

/// Up to `count` users after `after` (else from the beginning) in id order.
fn after_query(tenant: TenantId, after: Option<uuid::Uuid>, count: u32) -> Sql {
    let mut sql = Sql::new(SELECT_USERS);
    sql.push(" WHERE u.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()));
    if let Some(after) = after {
        sql.push(" AND u.id > ").bind(Value::Uuid(after));
    }
    sql.push(" ORDER BY u.id LIMIT ")
        .bind(Value::Int(i64::from(count)));
    sql
}

impl Store {
    /// How many of the tenant's users match `filter`: for all of them, the kept
    /// count.
    pub async fn count_users(
        &self,
        tenant: TenantId,
        filter: &Filter<UserAttr>,
    ) -> StoreResult<i64> {
        if matches!(filter, Filter::Constant(true)) {
            return Ok(self.tenant_counts(tenant).await?.users);
        }
        let Sql { text, values } = user_query(tenant, filter, None, None);
        let count: i64 = read!(self, |pool| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// The users of `query`'s window: for a keyset page up to `limit + 1` in id order
    /// after the cursor, for a numbered window up to `count` in sort order after
    /// `offset`. Its groups are read by [`Store::groups_of_users`].
    pub async fn list_users(&self, tenant: TenantId, query: &UserQuery) -> StoreResult<Vec<User>> {
        match query.window {
            Window::Numbered { count: 0, .. } => return Ok(Vec::new()),
            Window::Numbered { offset, count, .. }
                if query.sort.is_none() && matches!(query.filter, Filter::Constant(true)) =>
            {
                return self.numbered_users(tenant, offset, count).await;
            }
            _ => {}
        }
        if query.sort.is_none()
            && let Some(users) = self
                .walked_users(tenant, &query.filter, query.window)
                .await?
        {
            return Ok(users);
        }
        let sql = user_query(
            tenant,
            &query.filter,
            query.sort.as_ref(),
            Some(query.window),
        );
        self.read_users(sql).await
    }

    /// The users a statement of [`SELECT_USERS`] selects, with their values.
    async fn read_users(&self, sql: Sql) -> StoreResult<Vec<User>> {
        let Sql { text, values } = sql;
        let rows: Vec<UserRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        self.with_values(into_users(rows)?).await
    }

    /// On SQLite, a window in id order of a filter that matches many users: found
    /// by walking the users in id order, testing the filter on each, as far as
    /// [`walk_reach`]; `None` when the filter matches few (its indexes find fewer
    /// than [`MANY`] or than the window needs, and the sort is cheap) or does not fill the
    /// window within the walk (fewer than one user in `users / reach` match: the
    /// indexes then have little to sort). SQLite's planner would sort every match
    /// of a dense filter to return the first few (190 ms for a search matching one
    /// user in nine of a million), or walk the whole tenant for a rare one. PostgreSQL
    /// weighs both with its statistics and gets both right itself.
    async fn walked_users(
        &self,
        tenant: TenantId,
        filter: &Filter<UserAttr>,
        window: Window,
    ) -> StoreResult<Option<Vec<User>>> {
        if !matches!(self.backend, Backend::Sqlite { .. })
            || matches!(filter, Filter::Constant(_))
            || only_members_of(filter).is_some()
            || at_most_one(filter)
        {
            return Ok(None);
        }
        let (after, wanted, fills) = match window {
            Window::After { after, limit } => {
                let rows = u64::from(limit.get()) + 1;
                (after.map(|cursor| cursor.last_id()), rows, rows)
            }
            Window::Numbered { offset, count, .. } => (
                None,
                offset.saturating_add(u64::from(count)),
                u64::from(count),
            ),
        };
        let Sql { text, values } = matches_at_least(tenant, filter, after, wanted.max(MANY));
        let many: bool = read!(self, |pool| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_one(pool)
                .await?
        });
        if !many {
            return Ok(None);
        }
        let users = u64::try_from(self.tenant_counts(tenant).await?.users).unwrap_or(0);
        let reach = walk_reach(wanted, users);
        let Sql { text, values } = skip_query(tenant, after, reach);
        let until: Option<uuid::Uuid> = read!(self, |pool| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_optional(pool)
                .await?
        });
        let walk = Walk { until };
        let found = self
            .read_users(users_where(tenant, filter, None, Some(window), Some(walk)))
            .await?;
        // The walk holds the first matches in id order if it filled the window,
        // and all of them if it went to the end.
        Ok((found.len() as u64 == fills || until.is_none()).then_some(found))
    }

    /// A numbered window of all the tenant's users in id order: a keyset page after
    /// the nearest remembered start, reached by skipping in the index of ids only the
    /// users between that start and the window. Where the window and the next one
    /// start is remembered when the tenant's users did not shift meanwhile.
    async fn numbered_users(
        &self,
        tenant: TenantId,
        offset: u64,
        count: u32,
    ) -> StoreResult<Vec<User>> {
        let shifts = self.tenant_counts(tenant).await?.user_shifts;
        let start = self.positions.start(tenant, shifts, offset);
        let after = if start.skip == 0 {
            start.after
        } else {
            let Sql { text, values } = skip_query(tenant, start.after, start.skip);
            let found: Option<uuid::Uuid> = read!(self, |pool| {
                bind_values!(sqlx::query_scalar(&text), values)
                    .fetch_optional(pool)
                    .await?
            });
            match found {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            }
        };
        let users = self.read_users(after_query(tenant, after, count)).await?;
        // Both reads saw the same places only if no user went between them.
        if self.tenant_counts(tenant).await?.user_shifts == shifts {
            if start.skip > 0
                && let Some(id) = after
            {
                self.positions.remember(tenant, shifts, offset, id);
            }
            if users.len() == count as usize
                && let Some(last) = users.last()
            {
                let next = offset + u64::from(count);
                self.positions
                    .remember(tenant, shifts, next, last.id.as_uuid());
            }
        }
        Ok(users)
    }

    /// How many of the tenant's groups match `filter`: for all of them, the kept
    /// count.
    pub async fn count_groups_matching(
        &self,
        tenant: TenantId,
        filter: &Filter<GroupAttr>,
    ) -> StoreResult<i64> {
        if matches!(filter, Filter::Constant(true)) {
            return Ok(self.tenant_counts(tenant).await?.groups);
        }
        let Sql { text, values } = group_query(tenant, filter, None, None);
        let count: i64 = read!(self, |pool| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// Up to `limit` groups matching `filter` in `sort` order (else id order), after
    /// skipping `offset`.
    pub async fn groups_matching(
        &self,
        tenant: TenantId,
        filter: &Filter<GroupAttr>,
        sort: Option<Sort<GroupAttr>>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<Group>> {
        let Sql { text, values } = group_query(tenant, filter, sort, Some((offset, limit)));
        let rows: Vec<GroupRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        into_groups(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CompareOp, GroupId, Membership, PageCursor, PageLimit, Role, Status, UserId,
    };
    use crate::store::Backend;
    use crate::store::sql::plan;
    use uuid::Uuid;

    fn numbered(offset: u64, count: u32) -> Window {
        Window::Numbered {
            offset,
            count,
            total: false,
        }
    }

    #[tokio::test]
    async fn every_user_page_is_an_index_search_never_a_table_scan() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        let page = Window::After {
            after: Some(PageCursor::after(Uuid::now_v7())),
            limit: PageLimit::DEFAULT,
        };
        // What list parameters, lookups by email and whole-tenant streams ask for.
        let filters = [
            Filter::Constant(true),
            Filter::user_eq(UserAttr::Email, "A@b.co"),
            Filter::name_or_email_starts_with("Rog"),
            Filter::user_eq(UserAttr::Status, Status::Disabled.as_str()),
            Filter::user_eq(UserAttr::Role, Role::Admin.as_str()),
            Filter::member_of(GroupId::generate(), Membership::Effective),
            Filter::all([
                Filter::name_or_email_starts_with("rog"),
                Filter::user_eq(UserAttr::Status, "active"),
                Filter::user_eq(UserAttr::Role, "member"),
                Filter::member_of(GroupId::generate(), Membership::Effective),
            ]),
        ];
        for filter in &filters {
            for window in [page, numbered(20, 10)] {
                let plan = plan(&store, user_query(tenant, filter, None, Some(window))).await;
                assert!(
                    plan.lines().all(|step| !step.starts_with("SCAN")),
                    "{filter:?} scans a table:\n{plan}"
                );
            }
        }
        let by_id = Filter::Compare(UserAttr::Id, CompareOp::Eq, FilterValue::Id(Uuid::now_v7()));
        let plan = plan(
            &store,
            user_query(tenant, &by_id, None, Some(numbered(0, 1))),
        )
        .await;
        assert!(
            plan.contains("SEARCH u USING PRIMARY KEY (tenant_id=? AND id=?)")
                && plan.lines().all(|step| !step.starts_with("SCAN")),
            "{plan}"
        );
    }

    #[tokio::test]
    async fn a_groups_members_are_paged_and_counted_in_the_membership_key() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        let page = Window::After {
            after: Some(PageCursor::after(Uuid::now_v7())),
            limit: PageLimit::DEFAULT,
        };
        for membership in [Membership::Direct, Membership::Effective] {
            let members = Filter::member_of(GroupId::generate(), membership);
            for window in [Some(page), Some(numbered(20, 10)), None] {
                let plan = plan(&store, user_query(tenant, &members, None, window)).await;
                // The window (or count) is read from the membership key alone, and
                // the users by primary key.
                assert!(
                    plan.lines().all(|step| !step.contains("SCAN")),
                    "{membership:?}:\n{plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{membership:?}:\n{plan}");
            }
        }
        // One user's membership is checked on that user, not by reading the group.
        let check = Filter::all([
            Filter::user_eq(UserAttr::Email, "a@b.co"),
            Filter::member_of(GroupId::generate(), Membership::Effective),
        ]);
        let plan = plan(&store, user_query(tenant, &check, None, Some(page))).await;
        assert!(plan.contains("users_email"), "{plan}");
        assert!(plan.contains("CORRELATED"), "{plan}");
    }

    #[tokio::test]
    async fn a_declared_attribute_is_found_through_its_values_index() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        let declared = |kind| {
            UserAttr::Declared(DeclaredAttr {
                key: "badge".into(),
                kind,
                case_exact: false,
            })
        };
        let text = declared(crate::domain::AttributeType::String);
        let number = declared(crate::domain::AttributeType::Integer);
        for (filter, index) in [
            (
                Filter::Compare(text.clone(), CompareOp::Eq, FilterValue::Text("A7".into())),
                "attribute_values_by_value (tenant_id=? AND name_key=? AND value_key=?)",
            ),
            (
                Filter::Compare(text.clone(), CompareOp::Sw, FilterValue::Text("A".into())),
                "attribute_values_by_value (tenant_id=? AND name_key=? AND value_key>? AND value_key<?)",
            ),
            (
                Filter::Compare(number, CompareOp::Gt, FilterValue::Number(7.0)),
                "attribute_values_by_number (tenant_id=? AND name_key=? AND number>?)",
            ),
        ] {
            let plan = plan(
                &store,
                user_query(tenant, &filter, None, Some(numbered(0, 10))),
            )
            .await;
            assert!(
                plan.contains(index) && plan.lines().all(|step| !step.starts_with("SCAN")),
                "{filter:?}:\n{plan}"
            );
        }
        let folded = user_query(
            tenant,
            &Filter::Compare(text, CompareOp::Eq, FilterValue::Text("A7".into())),
            None,
            None,
        );
        assert!(
            folded
                .values
                .iter()
                .any(|v| matches!(v, Value::Text(t) if t == "a7"))
        );
    }

    #[test]
    fn the_store_folds_case_insensitive_values_and_keeps_the_others() {
        let tenant = TenantId::generate();
        let texts = |filter: &Filter<UserAttr>| -> Vec<String> {
            user_query(tenant, filter, None, None)
                .values
                .into_iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(t),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            texts(&Filter::user_eq(UserAttr::Email, "Ann@X.CO")),
            ["ann@x.co"]
        );
        assert_eq!(texts(&Filter::user_eq(UserAttr::UserName, "ÄNN")), ["änn"]);
        assert_eq!(
            texts(&Filter::user_eq(UserAttr::ExternalId, "AbC")),
            ["AbC"]
        );
        assert_eq!(
            texts(&Filter::user_eq(UserAttr::CountryCode, "de")),
            ["addresses", "DE"]
        );
        assert_eq!(
            texts(&Filter::user_eq(UserAttr::EmailType, "Home")),
            ["emails", "home"]
        );
        assert_eq!(
            texts(&Filter::Compare(
                UserAttr::FirstName,
                CompareOp::Sw,
                FilterValue::Text("Ab".into())
            )),
            ["ab", "ac"]
        );
    }

    #[test]
    fn a_filter_renders_as_one_tenant_bound_condition() {
        let tenant = TenantId::generate();
        let filter = Filter::and(
            Filter::Compare(
                UserAttr::Email,
                CompareOp::Ew,
                FilterValue::Text("@example.com".into()),
            ),
            Filter::not(Filter::Present(UserAttr::ExternalId)),
        );
        let sql = user_query(tenant, &filter, None, Some(numbered(0, 10)));
        assert!(
            sql.text
                .contains("WHERE u.tenant_id = $1 AND (((length(u.email_key) >= length($2)"),
            "{}",
            sql.text
        );
        assert!(
            sql.text.contains("NOT ((u.external_id IS NOT NULL"),
            "{}",
            sql.text
        );
        assert!(sql.text.ends_with("LIMIT $3 OFFSET $4"), "{}", sql.text);
        assert_eq!(sql.values.len(), 4);
    }

    #[test]
    fn a_chain_of_one_operator_renders_as_one_flat_list_with_a_parameter_each() {
        let tenant = TenantId::generate();
        let term = |i: usize| {
            Filter::Compare(
                UserAttr::LastName,
                CompareOp::Eq,
                FilterValue::Text(format!("n{i}")),
            )
        };
        // Grouped left-deep and right-deep, as a parser builds either.
        let left = (1..200).fold(term(0), |chain, i| Filter::or(chain, term(i)));
        let right = (0..199)
            .rev()
            .fold(term(199), |chain, i| Filter::or(term(i), chain));
        for filter in [left, right] {
            let sql = user_query(tenant, &filter, None, None);
            let condition = sql.text.split_once(" AND ").unwrap().1;
            assert_eq!(condition.matches('(').count(), 1 + 200, "{condition}");
            assert_eq!(condition.matches(" OR ").count(), 199);
            assert_eq!(sql.values.len(), 1 + 200);
        }
    }

    #[tokio::test]
    async fn filtered_lists_search_the_tenants_indexes() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        // A value filter is one search of the values' index.
        let one_value = Filter::AnyValue(
            "emails",
            Box::new(Filter::and(
                Filter::user_eq(UserAttr::EmailValue, "a@b.co"),
                Filter::user_eq(UserAttr::EmailType, "work"),
            )),
        );
        let steps = plan(
            &store,
            user_query(tenant, &one_value, None, Some(numbered(0, 10))),
        )
        .await;
        assert!(
            steps.contains(
                "COVERING INDEX user_values_value_key (tenant_id=? AND attribute=? AND value_key=?)"
            ) && steps.lines().all(|step| !step.starts_with("SCAN")),
            "{steps}"
        );
        // The attributes identity providers look users up by.
        for attr in [
            UserAttr::Email,
            UserAttr::EmailValue,
            UserAttr::UserName,
            UserAttr::ExternalId,
            UserAttr::DisplayName,
        ] {
            let filter = Filter::Compare(
                attr.clone(),
                CompareOp::Eq,
                FilterValue::Text("a@b.co".into()),
            );
            let steps = plan(
                &store,
                user_query(tenant, &filter, None, Some(numbered(0, 10))),
            )
            .await;
            assert!(
                steps.lines().all(|step| !step.starts_with("SCAN")),
                "{attr:?}: {steps}"
            );
        }
    }

    #[tokio::test]
    async fn an_upgraded_database_gives_its_users_their_email_as_user_name() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        let Backend::Sqlite { writer, .. } = &store.backend else {
            unreachable!()
        };
        // The schema as it was before userName, with one user in it.
        let before = sqlx::migrate::Migrator {
            migrations: super::super::SQLITE_MIGRATIONS
                .migrations
                .iter()
                .filter(|m| m.version < 20261123000007)
                .cloned()
                .collect(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(writer).await.unwrap();
        let tenant = TenantId::generate();
        let user = UserId::generate();
        sqlx::query(
            "INSERT INTO tenants (tenant_id, name, version, created_at, updated_at) \
             VALUES ($1, 'T', 1, 0, 0)",
        )
        .bind(tenant.as_uuid())
        .execute(writer)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO users (tenant_id, id, email, email_key, first_name, first_name_key, \
             last_name, last_name_key, role, status, version, created_at, updated_at) \
             VALUES ($1, $2, 'Old@Example.com', 'old@example.com', '', '', '', '', 'member', \
             'active', 1, 0, 0)",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .execute(writer)
        .await
        .unwrap();

        store.migrate().await.unwrap();
        let upgraded = store.get_user(tenant, user).await.unwrap().unwrap();
        assert_eq!(upgraded.user_name, None);
        assert_eq!(upgraded.user_name(), "Old@Example.com");
        let filter = Filter::Compare(
            UserAttr::UserName,
            CompareOp::Eq,
            FilterValue::Text("old@example.com".into()),
        );
        assert_eq!(store.count_users(tenant, &filter).await.unwrap(), 1);
        // The kept count starts from the users already there.
        let all = Filter::Constant(true);
        assert_eq!(store.count_users(tenant, &all).await.unwrap(), 1);
    }

    /// A user of `tenant` minted ten minutes less `n` milliseconds ago: settled, so
    /// a page may be remembered at it.
    fn settled_user(tenant: TenantId, n: u64) -> User {
        use std::time::Duration;
        let age = Duration::from_secs(600) - Duration::from_millis(n);
        let id = UserId::from_uuid(crate::store::positions::minted_ago(age));
        crate::store::users::test_user(tenant, id, n)
    }

    #[tokio::test]
    async fn numbered_windows_of_the_whole_list_hold_while_users_come_and_go() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = crate::store::tenants::test_tenant(&store).await;
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        for n in 0..230 {
            let user = settled_user(tenant, n);
            tx.insert_user(&user, None).await.unwrap();
            ids.push(user.id);
        }
        tx.commit().await.unwrap();

        let check = |ids: Vec<UserId>, windows: Vec<(u64, u32)>| {
            let store = store.clone();
            async move {
                let all = Filter::Constant(true);
                assert_eq!(
                    store.count_users(tenant, &all).await.unwrap(),
                    ids.len() as i64
                );
                for (offset, count) in windows {
                    let query = UserQuery {
                        filter: Filter::Constant(true),
                        sort: None,
                        window: numbered(offset, count),
                        include: crate::domain::Include::Nothing,
                    };
                    let found: Vec<UserId> = (store.list_users(tenant, &query).await.unwrap())
                        .into_iter()
                        .map(|u| u.id)
                        .collect();
                    let from = (offset as usize).min(ids.len());
                    let to = (from + count as usize).min(ids.len());
                    assert_eq!(found, ids[from..to], "window ({offset}, {count})");
                }
            }
        };
        // Pages in order, then jumps between, into and past the pages remembered.
        let walk: Vec<(u64, u32)> = (0..5).map(|page| (page * 50, 50)).collect();
        check(ids.clone(), walk.clone()).await;
        let shifts = store.tenant_counts(tenant).await.unwrap().user_shifts;
        let start = store.positions.start(tenant, shifts, 150);
        assert_eq!(start.after, Some(ids[149].as_uuid()));
        assert_eq!(start.skip, 0);
        let jumps = vec![
            (120, 30),
            (151, 7),
            (201, 50),
            (229, 1),
            (230, 10),
            (900, 10),
        ];
        check(ids.clone(), jumps.clone()).await;

        // A user before the remembered places goes: every window still holds.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.delete_user(tenant, ids[10], 1).await.unwrap());
        tx.commit().await.unwrap();
        ids.remove(10);
        check(ids.clone(), walk.clone()).await;
        check(ids.clone(), jumps.clone()).await;

        // One created now comes last, and is counted.
        let mut tx = store.begin().await.unwrap();
        let mut fresh = settled_user(tenant, 0);
        fresh.id = UserId::generate();
        fresh.set_email("fresh@example.com");
        tx.insert_user(&fresh, None).await.unwrap();
        tx.commit().await.unwrap();
        ids.push(fresh.id);
        check(ids.clone(), jumps).await;
        check(ids, walk).await;
    }

    #[tokio::test]
    async fn a_numbered_page_skips_in_the_index_of_ids_alone() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        for after in [None, Some(Uuid::now_v7())] {
            let skip = plan(&store, skip_query(tenant, after, 1000)).await;
            assert!(skip.contains("COVERING INDEX users_order"), "{skip}");
            let page = plan(&store, after_query(tenant, after, 100)).await;
            assert!(
                page.starts_with("SEARCH u USING")
                    && page.lines().all(|step| !step.starts_with("SCAN")),
                "{page}"
            );
        }
    }

    #[tokio::test]
    async fn a_dense_filter_walks_the_ids_and_every_window_is_the_indexes_answer() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = crate::store::tenants::test_tenant(&store).await;
        // User n is the nth in id order, its email u{n}@example.com.
        let mut ids: Vec<UserId> = (0..3000).map(|_| UserId::generate()).collect();
        ids.sort();
        let users: Vec<(User, Option<String>)> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| (crate::store::users::test_user(tenant, *id, n as u64), None))
            .collect();
        let mut tx = store.begin().await.unwrap();
        tx.insert_users(&users, true).await.unwrap();
        tx.commit().await.unwrap();

        let walk = users_where(
            tenant,
            &Filter::name_or_email_starts_with("u1"),
            None,
            Some(Window::After {
                after: Some(PageCursor::after(ids[10].as_uuid())),
                limit: PageLimit::DEFAULT,
            }),
            Some(Walk {
                until: Some(ids[400].as_uuid()),
            }),
        );
        let walk = plan(&store, walk).await;
        assert!(
            walk.contains("SEARCH u USING PRIMARY KEY (tenant_id=? AND id>? AND id<?)")
                && !walk.contains("TEMP B-TREE"),
            "{walk}"
        );

        // One in three (u1…), one (u1234), and 111 of which 100 are the last
        // hundred (u29, u290…u299, u2900…u2999), out of reach of a walk.
        for (prefix, walked) in [("u1", true), ("u1234", false), ("u29", false)] {
            let filter = Filter::name_or_email_starts_with(prefix);
            let matching: Vec<UserId> = users
                .iter()
                .filter(|(user, _)| user.email.starts_with(prefix))
                .map(|(user, _)| user.id)
                .collect();
            let first = Window::first(PageLimit::new(50).unwrap());
            assert_eq!(
                store
                    .walked_users(tenant, &filter, first)
                    .await
                    .unwrap()
                    .is_some(),
                walked,
                "{prefix}"
            );
            let after = |n: usize| Window::After {
                after: Some(PageCursor::after(ids[n].as_uuid())),
                limit: PageLimit::new(50).unwrap(),
            };
            for window in [
                first,
                after(5),
                after(1500),
                numbered(0, 100),
                numbered(60, 100),
            ] {
                let expected: Vec<UserId> = match window {
                    Window::After { after, limit } => matching
                        .iter()
                        .filter(|id| after.is_none_or(|a| id.as_uuid() > a.last_id()))
                        .take(limit.get() as usize + 1)
                        .copied()
                        .collect(),
                    Window::Numbered { offset, count, .. } => matching
                        .iter()
                        .skip(offset as usize)
                        .take(count as usize)
                        .copied()
                        .collect(),
                };
                let query = UserQuery {
                    filter: filter.clone(),
                    sort: None,
                    window,
                    include: crate::domain::Include::Nothing,
                };
                let listed: Vec<UserId> = store
                    .list_users(tenant, &query)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|user| user.id)
                    .collect();
                assert_eq!(listed, expected, "{prefix} {window:?}");
            }
        }
    }
}
