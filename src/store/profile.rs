//! The multi-valued attributes of users' profiles (`user_values`): written as one
//! delete and one multi-row insert per user write, read in one statement for a whole
//! page of users.

use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{ADDRESSES, Address, MultiValue, User, UserId, ValueList, fold_case};

use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, read, write};

/// How many users' values one statement reads: far below either backend's
/// parameter limit.
const USERS_PER_STATEMENT: usize = 500;

const SELECT_VALUES: &str = "SELECT user_id, attribute, value, type, is_primary, display, \
    formatted, street_address, locality, region, postal_code, country \
    FROM user_values WHERE tenant_id = ";

#[derive(FromRow)]
struct ValueRow {
    user_id: Uuid,
    attribute: String,
    value: Option<String>,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    is_primary: Option<bool>,
    display: Option<String>,
    formatted: Option<String>,
    street_address: Option<String>,
    locality: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

/// The statement reading the values of `users` (of one tenant), in each user's
/// attribute order as written.
fn values_query(users: &[User]) -> Option<Sql> {
    let first = users.first()?;
    let mut sql = Sql::new(SELECT_VALUES);
    sql.bind(Value::Uuid(first.tenant_id.as_uuid()))
        .push(" AND user_id IN (");
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Uuid(user.id.as_uuid()));
    }
    sql.push(") ORDER BY user_id, attribute, position");
    Some(sql)
}

/// Gives each user its values.
fn attach(users: &mut [User], rows: Vec<ValueRow>) -> StoreResult<()> {
    for row in rows {
        let id = UserId::from_uuid(row.user_id);
        let Some(user) = users.iter_mut().find(|u| u.id == id) else {
            continue;
        };
        let profile = &mut user.profile;
        if row.attribute == ADDRESSES {
            profile.addresses.push(Address {
                formatted: row.formatted,
                street_address: row.street_address,
                locality: row.locality,
                region: row.region,
                postal_code: row.postal_code,
                country: row.country,
                kind: row.kind,
                primary: row.is_primary,
            });
            continue;
        }
        let list = ValueList::parse(&row.attribute).ok_or_else(|| {
            StoreError::Corrupt(format!("user_values.attribute {:?}", row.attribute))
        })?;
        profile.list_mut(list).push(MultiValue {
            value: row.value,
            kind: row.kind,
            primary: row.is_primary,
            display: row.display,
        });
    }
    Ok(())
}

/// The statements inserting every value of `users`, none when they have none.
fn insert_values(users: &[&User], rows_per_statement: usize) -> Vec<Sql> {
    const INSERT: &str = "INSERT INTO user_values (tenant_id, user_id, attribute, position, \
        value, value_key, type, is_primary, display, formatted, street_address, locality, \
        region, postal_code, country) VALUES ";
    let mut statements = Vec::new();
    let mut sql = Sql::new(INSERT);
    let mut rows = 0;
    let mut row =
        |sql: &mut Sql, user: &User, attribute: &str, position: usize, cells: [Value; 11]| {
            if rows == rows_per_statement {
                statements.push(std::mem::replace(sql, Sql::new(INSERT)));
                rows = 0;
            }
            if rows > 0 {
                sql.push(", ");
            }
            rows += 1;
            sql.push("(")
                .bind(Value::Uuid(user.tenant_id.as_uuid()))
                .push(", ")
                .bind(Value::Uuid(user.id.as_uuid()))
                .push(", ")
                .bind(Value::Text(attribute.to_owned()))
                .push(", ")
                .bind(Value::Int(i64::try_from(position).unwrap_or(i64::MAX)));
            for cell in cells {
                sql.push(", ").bind(cell);
            }
            sql.push(")");
        };
    let text = |v: &Option<String>| Value::OptText(v.clone());
    let none = || Value::OptText(None);
    for user in users {
        for list in ValueList::ALL {
            for (position, item) in user.profile.list(list).iter().enumerate() {
                row(
                    &mut sql,
                    user,
                    list.as_str(),
                    position,
                    [
                        text(&item.value),
                        Value::OptText(item.value.as_deref().map(fold_case)),
                        text(&item.kind),
                        Value::OptBool(item.primary),
                        text(&item.display),
                        none(),
                        none(),
                        none(),
                        none(),
                        none(),
                        none(),
                    ],
                );
            }
        }
        for (position, address) in user.profile.addresses.iter().enumerate() {
            row(
                &mut sql,
                user,
                ADDRESSES,
                position,
                [
                    none(),
                    none(),
                    text(&address.kind),
                    Value::OptBool(address.primary),
                    none(),
                    text(&address.formatted),
                    text(&address.street_address),
                    text(&address.locality),
                    text(&address.region),
                    text(&address.postal_code),
                    text(&address.country),
                ],
            );
        }
    }
    if !sql.values.is_empty() {
        statements.push(sql);
    }
    statements
}

impl Store {
    /// Gives `users` (of one tenant) their multi-valued attributes and their declared
    /// attributes' values, read in two statements per few hundred users.
    pub(super) async fn with_values(&self, mut users: Vec<User>) -> StoreResult<Vec<User>> {
        for chunk in users.chunks_mut(USERS_PER_STATEMENT) {
            let Some(Sql { text, values }) = values_query(chunk) else {
                continue;
            };
            let rows: Vec<ValueRow> = read!(self, |pool| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(pool)
                    .await?
            });
            attach(chunk, rows)?;
            self.with_declared_values(chunk).await?;
        }
        Ok(users)
    }
}

impl Tx {
    /// [`Store::with_values`] within the transaction.
    pub(super) async fn with_values(&mut self, mut users: Vec<User>) -> StoreResult<Vec<User>> {
        for chunk in users.chunks_mut(USERS_PER_STATEMENT) {
            let Some(Sql { text, values }) = values_query(chunk) else {
                continue;
            };
            let rows: Vec<ValueRow> = write!(self, |conn| {
                bind_values!(sqlx::query_as(&text), values)
                    .fetch_all(conn)
                    .await?
            });
            attach(chunk, rows)?;
            self.with_declared_values(chunk).await?;
        }
        Ok(users)
    }

    /// Replaces the stored multi-valued attributes of `user` with its own.
    pub(super) async fn write_values(&mut self, user: &User) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("DELETE FROM user_values WHERE tenant_id = $1 AND user_id = $2")
                .bind(user.tenant_id.as_uuid())
                .bind(user.id.as_uuid())
                .execute(&mut *conn)
                .await?;
        });
        self.insert_values(&[user]).await
    }

    /// Inserts the multi-valued attributes of users that have none stored yet, in
    /// as few statements as their number allows.
    pub(super) async fn insert_values(&mut self, users: &[&User]) -> StoreResult<()> {
        let rows_per_statement = self.rows_per_statement(15);
        for statement in insert_values(users, rows_per_statement) {
            self.execute_bound(statement).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantId;

    #[tokio::test]
    async fn a_pages_values_are_one_search_of_the_primary_key() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let tenant = TenantId::generate();
        let users: Vec<User> = (0..3)
            .map(|i| crate::store::users::test_user(tenant, UserId::generate(), i))
            .collect();
        let Some(statement) = values_query(&users) else {
            panic!("no statement for three users");
        };
        let plan = crate::store::sql::plan(&store, statement).await;
        assert!(
            plan.lines()
                .any(|step| step.starts_with("SEARCH") && step.contains("PRIMARY KEY")),
            "{plan}"
        );
        assert!(plan.lines().all(|step| !step.starts_with("SCAN")), "{plan}");
    }
}
