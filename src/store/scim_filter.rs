//! Filtered, numbered lists of users and groups (what SCIM's `filter`, `startIndex`
//! and `count` ask for), rendered from the domain's [`Filter`] tree as SQL, and the
//! membership reads and batch changes that SCIM's group resources need. Every
//! statement is bounded to one tenant by the leading `tenant_id` of an index.

use uuid::Uuid;

use crate::domain::{
    CompareOp, Filter, FilterValue, Group, GroupAttr, GroupId, Sort, TenantId, Timestamp, User,
    UserAttr, UserId,
};

use super::groups::{SELECT_GROUPS, into_groups};
use super::sql::{Sql, Value, bind_values};
use super::users::{SELECT_USERS, UserRow, into_users};
use super::{Store, StoreResult, Tx, read, write};

/// How many ids one statement binds: far below either backend's parameter limit.
const IDS_PER_STATEMENT: usize = 500;

/// Appends a parameter and answers its placeholder, for values a clause names twice.
fn param(sql: &mut Sql, value: Value) -> String {
    sql.values.push(value);
    format!("${}", sql.values.len())
}

/// What kind of column an attribute is stored in.
enum Column {
    Text(&'static str),
    Id(&'static str),
    Time(&'static str),
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
        (Column::Id(column), FilterValue::Id(id))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            sql.push(column)
                .push(operator(op).unwrap_or(" = "))
                .bind(Value::Uuid(*id));
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
        Column::Text(column) => sql
            .push("(")
            .push(column)
            .push(" IS NOT NULL AND ")
            .push(column)
            .push(" <> '')"),
        Column::Id(column) | Column::Time(column) => {
            sql.push("(").push(column).push(" IS NOT NULL)")
        }
    };
}

/// Renders one attribute's condition: a comparison, or presence when `None`.
type Leaf<A> = dyn Fn(&mut Sql, A, Option<(CompareOp, &FilterValue)>);

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
fn render<A: Copy>(sql: &mut Sql, filter: &Filter<A>, leaf: &Leaf<A>) {
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
                render(sql, operand, leaf);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT (");
            render(sql, inner, leaf);
            sql.push(")");
        }
        Filter::Present(attr) => leaf(sql, *attr, None),
        Filter::Compare(attr, op, value) => leaf(sql, *attr, Some((*op, value))),
    }
}

fn user_column(attr: UserAttr) -> Column {
    match attr {
        UserAttr::Id => Column::Id("u.id"),
        UserAttr::UserName => Column::Text("u.user_name_key"),
        UserAttr::Email => Column::Text("u.email_key"),
        UserAttr::FirstName => Column::Text("u.first_name_key"),
        UserAttr::LastName => Column::Text("u.last_name_key"),
        UserAttr::ExternalId => Column::Text("u.external_id"),
        UserAttr::Phone => Column::Text("v.value"),
        UserAttr::Company => Column::Text("u.organization"),
        UserAttr::CountryCode => Column::Text("upper(v.country)"),
        UserAttr::Role => Column::Text("u.role"),
        UserAttr::Active => Column::Text("u.status"),
        UserAttr::Created => Column::Time("u.created_at"),
        UserAttr::LastModified => Column::Time("u.updated_at"),
        UserAttr::GroupId => Column::Id("m.group_id"),
        UserAttr::DisplayName => Column::Text("u.display_name_key"),
        // Compared case-insensitively: the face folds the value, the store the column.
        UserAttr::NickName => Column::Text("lower(u.nick_name)"),
        UserAttr::Title => Column::Text("lower(u.title)"),
        UserAttr::UserType => Column::Text("lower(u.user_type)"),
        UserAttr::PreferredLanguage => Column::Text("lower(u.preferred_language)"),
        UserAttr::Locale => Column::Text("lower(u.locale)"),
        UserAttr::Timezone => Column::Text("lower(u.timezone)"),
        UserAttr::EmployeeNumber => Column::Text("lower(u.employee_number)"),
        UserAttr::CostCenter => Column::Text("lower(u.cost_center)"),
        UserAttr::Division => Column::Text("lower(u.division)"),
        UserAttr::Department => Column::Text("lower(u.department)"),
        UserAttr::ManagerId => Column::Id("u.manager_id"),
        UserAttr::EmailType | UserAttr::PhoneType | UserAttr::AddressType => {
            Column::Text("lower(v.type)")
        }
    }
}

/// The multi-valued attribute whose rows hold a value attribute, if it is one.
fn user_values_of(attr: UserAttr) -> Option<&'static str> {
    match attr {
        UserAttr::Phone | UserAttr::PhoneType => Some("phoneNumbers"),
        UserAttr::CountryCode | UserAttr::AddressType => Some("addresses"),
        UserAttr::EmailType => Some("emails"),
        _ => None,
    }
}

fn user_leaf(sql: &mut Sql, attr: UserAttr, comparison: Option<(CompareOp, &FilterValue)>) {
    const MEMBERSHIP: &str = "EXISTS (SELECT 1 FROM memberships m \
        WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id";
    match (attr, comparison) {
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
        (UserAttr::GroupId, None) => {
            sql.push(MEMBERSHIP).push(")");
        }
        (UserAttr::GroupId, Some((CompareOp::Eq, FilterValue::Id(id)))) => {
            sql.push(MEMBERSHIP)
                .push(" AND m.group_id = ")
                .bind(Value::Uuid(*id))
                .push(")");
        }
        (UserAttr::GroupId, Some((CompareOp::Ne, FilterValue::Id(id)))) => {
            sql.push("NOT ")
                .push(MEMBERSHIP)
                .push(" AND m.group_id = ")
                .bind(Value::Uuid(*id))
                .push(")");
        }
        (attr, comparison) if user_values_of(attr).is_some() => {
            // Some value of the user's list matches.
            let list = user_values_of(attr).unwrap_or_default();
            sql.push(
                "EXISTS (SELECT 1 FROM user_values v \
                 WHERE v.tenant_id = u.tenant_id AND v.user_id = u.id AND v.attribute = ",
            )
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

fn group_column(attr: GroupAttr) -> Column {
    match attr {
        GroupAttr::Id => Column::Id("g.id"),
        GroupAttr::Name => Column::Text("g.name_key"),
        GroupAttr::ExternalId => Column::Text("g.external_id"),
        GroupAttr::Created => Column::Time("g.created_at"),
        GroupAttr::LastModified => Column::Time("g.updated_at"),
        GroupAttr::MemberId => Column::Id("m.user_id"),
    }
}

fn group_leaf(sql: &mut Sql, attr: GroupAttr, comparison: Option<(CompareOp, &FilterValue)>) {
    const MEMBERSHIP: &str = "EXISTS (SELECT 1 FROM memberships m \
        WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id";
    match (attr, comparison) {
        (GroupAttr::MemberId, None) => {
            sql.push(MEMBERSHIP).push(")");
        }
        (GroupAttr::MemberId, Some((op, FilterValue::Id(id))))
            if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
        {
            if op == CompareOp::Ne {
                sql.push("NOT ");
            }
            sql.push(MEMBERSHIP)
                .push(" AND m.user_id = ")
                .bind(Value::Uuid(*id))
                .push(")");
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
    if let Some(Column::Text(column) | Column::Time(column) | Column::Id(column)) = sort {
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

/// The column a sort orders by; sorting by membership is not offered.
fn user_sort_column(sort: Option<Sort<UserAttr>>) -> Option<Column> {
    sort.filter(|s| s.attr != UserAttr::GroupId && user_values_of(s.attr).is_none())
        .map(|s| user_column(s.attr))
}

fn group_sort_column(sort: Option<Sort<GroupAttr>>) -> Option<Column> {
    sort.filter(|s| s.attr != GroupAttr::MemberId)
        .map(|s| group_column(s.attr))
}

/// `SELECT … WHERE tenant AND filter ORDER BY … LIMIT OFFSET`, or the count alone.
fn user_query(
    tenant: TenantId,
    filter: &Filter<UserAttr>,
    sort: Option<Sort<UserAttr>>,
    window: Option<(u64, u32)>,
) -> Sql {
    let mut sql = Sql::new(match window {
        Some(_) => SELECT_USERS,
        None => "SELECT COUNT(*) FROM users u",
    });
    sql.push(" WHERE u.tenant_id = ")
        .bind(Value::Uuid(tenant.as_uuid()))
        .push(" AND ");
    render(&mut sql, filter, &user_leaf);
    if let Some((offset, limit)) = window {
        let descending = sort.is_some_and(|s| s.descending);
        order_by(&mut sql, user_sort_column(sort), descending, "u.id");
        sql.push(" LIMIT ")
            .bind(Value::Int(i64::from(limit)))
            .push(" OFFSET ")
            .bind(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    }
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
    render(&mut sql, filter, &group_leaf);
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

/// `prefix (id, id, …) suffix` with every id bound.
fn with_ids(prefix: Sql, ids: &[Uuid], suffix: &str) -> Sql {
    let mut sql = prefix;
    sql.push("(");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Uuid(*id));
    }
    sql.push(")").push(suffix);
    sql
}

impl Store {
    /// How many of the tenant's users match `filter`.
    pub async fn count_users_matching(
        &self,
        tenant: TenantId,
        filter: &Filter<UserAttr>,
    ) -> StoreResult<i64> {
        let Sql { text, values } = user_query(tenant, filter, None, None);
        let count: i64 = read!(self, |pool| {
            bind_values!(sqlx::query_scalar(&text), values)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// Up to `limit` users matching `filter` in `sort` order (else id order), after
    /// skipping `offset`.
    pub async fn users_matching(
        &self,
        tenant: TenantId,
        filter: &Filter<UserAttr>,
        sort: Option<Sort<UserAttr>>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let Sql { text, values } = user_query(tenant, filter, sort, Some((offset, limit)));
        let rows: Vec<UserRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        self.with_values(into_users(rows)?).await
    }

    /// How many of the tenant's groups match `filter`.
    pub async fn count_groups_matching(
        &self,
        tenant: TenantId,
        filter: &Filter<GroupAttr>,
    ) -> StoreResult<i64> {
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
        let rows: Vec<super::groups::GroupRow> = read!(self, |pool| {
            bind_values!(sqlx::query_as(&text), values)
                .fetch_all(pool)
                .await?
        });
        into_groups(rows)
    }

    /// The (user, group id, group name) memberships of `users`, in one statement per
    /// few hundred users, through the by-user index.
    pub async fn group_refs_of_users(
        &self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, GroupId, String)>> {
        let mut found = Vec::new();
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let mut prefix = Sql::new(
                "SELECT m.user_id, g.id, g.name FROM memberships m \
                 JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
                 WHERE m.tenant_id = ",
            );
            prefix
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND m.user_id IN ");
            let ids: Vec<Uuid> = chunk.iter().map(|u| u.as_uuid()).collect();
            let Sql { text, values } = with_ids(prefix, &ids, " ORDER BY m.user_id, g.name");
            let rows: Vec<(Uuid, Uuid, String)> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            found.extend(rows.into_iter().map(|(user, group, name)| {
                (UserId::from_uuid(user), GroupId::from_uuid(group), name)
            }));
        }
        Ok(found)
    }

    /// The (group, member id) memberships of `groups`, through the primary key, in
    /// one statement per few hundred groups.
    pub async fn member_ids_of_groups(
        &self,
        tenant: TenantId,
        groups: &[GroupId],
    ) -> StoreResult<Vec<(GroupId, UserId)>> {
        let mut found = Vec::new();
        for chunk in groups.chunks(IDS_PER_STATEMENT) {
            let mut prefix =
                Sql::new("SELECT m.group_id, m.user_id FROM memberships m WHERE m.tenant_id = ");
            prefix
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND m.group_id IN ");
            let ids: Vec<Uuid> = chunk.iter().map(|g| g.as_uuid()).collect();
            let Sql { text, values } = with_ids(prefix, &ids, " ORDER BY m.group_id, m.user_id");
            let rows: Vec<(Uuid, Uuid)> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            found.extend(
                rows.into_iter()
                    .map(|(group, user)| (GroupId::from_uuid(group), UserId::from_uuid(user))),
            );
        }
        Ok(found)
    }
}

impl Tx {
    /// Which of `users` exist in the tenant.
    pub async fn existing_user_ids(
        &mut self,
        tenant: TenantId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        let mut found = Vec::new();
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let mut prefix = Sql::new("SELECT id FROM users WHERE tenant_id = ");
            prefix
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND id IN ");
            let ids: Vec<Uuid> = chunk.iter().map(|u| u.as_uuid()).collect();
            let Sql { text, values } = with_ids(prefix, &ids, "");
            let rows: Vec<Uuid> = write!(self, |conn| {
                bind_values!(sqlx::query_scalar(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            found.extend(rows.into_iter().map(UserId::from_uuid));
        }
        Ok(found)
    }

    /// The ids of the group's members.
    pub async fn member_ids(
        &mut self,
        tenant: TenantId,
        group: GroupId,
    ) -> StoreResult<Vec<UserId>> {
        let rows: Vec<Uuid> = write!(self, |conn| {
            sqlx::query_scalar(
                "SELECT user_id FROM memberships WHERE tenant_id = $1 AND group_id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(group.as_uuid())
            .fetch_all(conn)
            .await?
        });
        Ok(rows.into_iter().map(UserId::from_uuid).collect())
    }

    /// Makes `users` members of `group` (those that are already stay as they are);
    /// answers how many memberships were added.
    pub async fn add_members(
        &mut self,
        tenant: TenantId,
        group: GroupId,
        users: &[UserId],
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut added = 0;
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let mut prefix = Sql::new(
                "INSERT INTO memberships (tenant_id, group_id, user_id, is_default, created_at) \
                 SELECT u.tenant_id, ",
            );
            prefix
                .bind(Value::Uuid(group.as_uuid()))
                .push(", u.id, FALSE, ")
                .bind(Value::Time(now))
                .push(" FROM users u WHERE u.tenant_id = ")
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND u.id IN ");
            let ids: Vec<Uuid> = chunk.iter().map(|u| u.as_uuid()).collect();
            let Sql { text, values } = with_ids(
                prefix,
                &ids,
                " ON CONFLICT (tenant_id, group_id, user_id) DO NOTHING",
            );
            added += write!(self, |conn| {
                bind_values!(sqlx::query(&text), values)
                    .execute(conn)
                    .await?
                    .rows_affected()
            });
        }
        Ok(added)
    }

    /// Ends the memberships of `users` in `group`; answers how many there were.
    pub async fn remove_members(
        &mut self,
        tenant: TenantId,
        group: GroupId,
        users: &[UserId],
    ) -> StoreResult<u64> {
        let mut removed = 0;
        for chunk in users.chunks(IDS_PER_STATEMENT) {
            let mut prefix = Sql::new("DELETE FROM memberships WHERE tenant_id = ");
            prefix
                .bind(Value::Uuid(tenant.as_uuid()))
                .push(" AND group_id = ")
                .bind(Value::Uuid(group.as_uuid()))
                .push(" AND user_id IN ");
            let ids: Vec<Uuid> = chunk.iter().map(|u| u.as_uuid()).collect();
            let Sql { text, values } = with_ids(prefix, &ids, "");
            removed += write!(self, |conn| {
                bind_values!(sqlx::query(&text), values)
                    .execute(conn)
                    .await?
                    .rows_affected()
            });
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CompareOp;
    use crate::store::Backend;

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
        let sql = user_query(tenant, &filter, None, Some((0, 10)));
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
        // The attributes identity providers look users up by.
        for attr in [
            UserAttr::Email,
            UserAttr::UserName,
            UserAttr::ExternalId,
            UserAttr::DisplayName,
        ] {
            let filter = Filter::Compare(attr, CompareOp::Eq, FilterValue::Text("a@b.co".into()));
            let Sql { text, values } = user_query(tenant, &filter, None, Some((0, 10)));
            let explain = format!("EXPLAIN QUERY PLAN {text}");
            let rows: Vec<(i64, i64, i64, String)> = read!(store, |pool| {
                bind_values!(sqlx::query_as(&explain), values)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            });
            let plan: Vec<String> = rows.into_iter().map(|row| row.3).collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{attr:?}: {plan:?}"
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
        assert_eq!(
            store.count_users_matching(tenant, &filter).await.unwrap(),
            1
        );
    }
}
