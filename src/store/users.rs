use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{
    Enterprise, GroupId, LoginMetadata, Manager, NameParts, Profile, TenantId, Timestamp, User,
    UserId, fold_case,
};

use super::codec::parse_enum;
use super::counts::CountChange;
use super::sql::{Sql, Value, bind_values};
use super::{Store, StoreError, StoreResult, Tx, Unique, on_unique, read, write};

/// The user columns every read selects, with the default group joined in.
pub(super) const SELECT_USERS: &str = "SELECT u.tenant_id, u.id, u.email, u.user_name, u.first_name, u.last_name, \
    u.display_name, u.nick_name, u.profile_url, u.title, u.user_type, u.preferred_language, \
    u.locale, u.timezone, u.name_formatted, u.middle_name, u.honorific_prefix, \
    u.honorific_suffix, u.employee_number, u.cost_center, u.organization, u.division, \
    u.department, u.manager_id, \
    COALESCE(mg.display_name, NULLIF(TRIM(mg.first_name || ' ' || mg.last_name), '')) \
    AS manager_display_name, mg.id IS NOT NULL AS manager_found, \
    u.role, u.status, u.external_id, \
    u.password_hash IS NOT NULL AS has_password, u.two_factor_enabled, \
    u.successful_logins, u.failed_logins, u.last_successful_login_at, \
    u.last_failed_login_at, u.last_action_at, u.password_changed_at, \
    u.password_reset_sent_at, \
    u.version, u.created_at, u.updated_at, d.group_id AS default_group_id \
    FROM users u \
    LEFT JOIN memberships d \
    ON d.tenant_id = u.tenant_id AND d.user_id = u.id AND d.is_default \
    LEFT JOIN users mg ON mg.tenant_id = u.tenant_id AND mg.id = u.manager_id";

#[derive(FromRow)]
pub(super) struct UserRow {
    tenant_id: Uuid,
    id: Uuid,
    email: String,
    user_name: Option<String>,
    first_name: String,
    last_name: String,
    display_name: Option<String>,
    nick_name: Option<String>,
    profile_url: Option<String>,
    title: Option<String>,
    user_type: Option<String>,
    preferred_language: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    name_formatted: Option<String>,
    middle_name: Option<String>,
    honorific_prefix: Option<String>,
    honorific_suffix: Option<String>,
    employee_number: Option<String>,
    cost_center: Option<String>,
    organization: Option<String>,
    division: Option<String>,
    department: Option<String>,
    manager_id: Option<Uuid>,
    manager_display_name: Option<String>,
    manager_found: bool,
    role: String,
    status: String,
    external_id: Option<String>,
    has_password: bool,
    two_factor_enabled: bool,
    successful_logins: i64,
    failed_logins: i64,
    last_successful_login_at: Option<Timestamp>,
    last_failed_login_at: Option<Timestamp>,
    last_action_at: Option<Timestamp>,
    password_changed_at: Option<Timestamp>,
    password_reset_sent_at: Option<Timestamp>,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    default_group_id: Option<Uuid>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            email: row.email,
            user_name: row.user_name,
            first_name: row.first_name,
            last_name: row.last_name,
            attributes: Default::default(),
            // The multi-valued attributes are read beside, a page at a time.
            profile: Profile {
                display_name: row.display_name,
                nick_name: row.nick_name,
                profile_url: row.profile_url,
                title: row.title,
                user_type: row.user_type,
                preferred_language: row.preferred_language,
                locale: row.locale,
                timezone: row.timezone,
                name: NameParts {
                    formatted: row.name_formatted,
                    middle_name: row.middle_name,
                    honorific_prefix: row.honorific_prefix,
                    honorific_suffix: row.honorific_suffix,
                },
                enterprise: Enterprise {
                    employee_number: row.employee_number,
                    cost_center: row.cost_center,
                    organization: row.organization,
                    division: row.division,
                    department: row.department,
                    manager: row.manager_id.map(|id| Manager {
                        id: UserId::from_uuid(id),
                        display_name: row.manager_display_name,
                        found: row.manager_found,
                    }),
                },
                ..Profile::default()
            },
            role: parse_enum("users.role", &row.role)?,
            status: parse_enum("users.status", &row.status)?,
            external_id: row.external_id,
            default_group_id: row.default_group_id.map(GroupId::from_uuid),
            has_password: row.has_password,
            two_factor_enabled: row.two_factor_enabled,
            login: LoginMetadata {
                successful_logins: row.successful_logins,
                failed_logins: row.failed_logins,
                last_successful_login_at: row.last_successful_login_at,
                last_failed_login_at: row.last_failed_login_at,
                last_action_at: row.last_action_at,
                password_changed_at: row.password_changed_at,
                password_reset_sent_at: row.password_reset_sent_at,
            },
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(super) fn into_users(rows: Vec<UserRow>) -> StoreResult<Vec<User>> {
    rows.into_iter().map(User::try_from).collect()
}

/// Maps a unique violation on writing `user` to the rule it broke: the userName
/// index is named in the error (PostgreSQL's constraint, SQLite's message). For a
/// user whose userName is its email, that is the email's clash.
fn on_user_unique(error: sqlx::Error, user: &User) -> StoreError {
    let user_name = user.user_name.is_some()
        && match &error {
            sqlx::Error::Database(db) => {
                db.constraint() == Some("users_user_name_key")
                    || db.message().contains("users.user_name_key")
            }
            _ => false,
        };
    on_unique(
        error,
        if user_name {
            Unique::UserName
        } else {
            Unique::UserEmail
        },
    )
}

/// Every column a change of the user writes, with its value: one list, so that a
/// column's name and its value stand in one place for both the insert and the update.
fn written_columns(user: &User) -> Vec<(&'static str, Value)> {
    let text = |v: &Option<String>| Value::OptText(v.clone());
    let profile = &user.profile;
    let name = &profile.name;
    let enterprise = &profile.enterprise;
    vec![
        ("email", Value::Text(user.email.clone())),
        ("email_key", Value::Text(fold_case(&user.email))),
        ("first_name", Value::Text(user.first_name.clone())),
        ("first_name_key", Value::Text(fold_case(&user.first_name))),
        ("last_name", Value::Text(user.last_name.clone())),
        ("last_name_key", Value::Text(fold_case(&user.last_name))),
        ("role", Value::Text(user.role.as_str().to_owned())),
        ("status", Value::Text(user.status.as_str().to_owned())),
        ("external_id", text(&user.external_id)),
        ("version", Value::Int(user.version)),
        ("updated_at", Value::Time(user.updated_at)),
        ("user_name", text(&user.user_name)),
        ("user_name_key", Value::Text(fold_case(user.user_name()))),
        ("display_name", text(&profile.display_name)),
        (
            "display_name_key",
            Value::OptText(profile.display_name.as_deref().map(fold_case)),
        ),
        ("nick_name", text(&profile.nick_name)),
        ("profile_url", text(&profile.profile_url)),
        ("title", text(&profile.title)),
        ("user_type", text(&profile.user_type)),
        ("preferred_language", text(&profile.preferred_language)),
        ("locale", text(&profile.locale)),
        ("timezone", text(&profile.timezone)),
        ("name_formatted", text(&name.formatted)),
        ("middle_name", text(&name.middle_name)),
        ("honorific_prefix", text(&name.honorific_prefix)),
        ("honorific_suffix", text(&name.honorific_suffix)),
        ("employee_number", text(&enterprise.employee_number)),
        ("cost_center", text(&enterprise.cost_center)),
        ("organization", text(&enterprise.organization)),
        ("division", text(&enterprise.division)),
        ("department", text(&enterprise.department)),
        (
            "manager_id",
            Value::OptUuid(enterprise.manager.as_ref().map(|m| m.id.as_uuid())),
        ),
    ]
}

/// About how many values a user's row binds: what multi-row inserts size their
/// statements by.
pub(super) const USER_COLUMNS: usize = 38;

/// `INSERT INTO users (…) VALUES (…), …` of new users, each with its password hash:
/// the written columns, and those only an insert sets.
pub(super) fn insert_statement(users: &[(&User, Option<&str>)]) -> Sql {
    let mut sql = Sql::default();
    for (row, (user, password_hash)) in users.iter().enumerate() {
        let mut columns = vec![
            ("tenant_id", Value::Uuid(user.tenant_id.as_uuid())),
            ("id", Value::Uuid(user.id.as_uuid())),
            (
                "password_hash",
                Value::OptText(password_hash.map(str::to_owned)),
            ),
            (
                "password_changed_at",
                Value::OptTime(user.login.password_changed_at),
            ),
            ("created_at", Value::Time(user.created_at)),
        ];
        columns.extend(written_columns(user));
        if row == 0 {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            sql.push(&format!("INSERT INTO users ({}) VALUES ", names.join(", ")));
        } else {
            sql.push(", ");
        }
        for (i, (_, value)) in columns.into_iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", " });
            sql.bind(value);
        }
        sql.push(")");
    }
    sql
}

/// `UPDATE users SET …` of the written columns, if the stored version is `expected`.
fn update_statement(user: &User, expected: i64) -> Sql {
    let mut sql = Sql::new("UPDATE users SET ");
    for (i, (name, value)) in written_columns(user).into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(name).push(" = ").bind(value);
    }
    sql.push(" WHERE tenant_id = ")
        .bind(Value::Uuid(user.tenant_id.as_uuid()))
        .push(" AND id = ")
        .bind(Value::Uuid(user.id.as_uuid()))
        .push(" AND version = ")
        .bind(Value::Int(expected));
    sql
}

impl Store {
    /// The user whose personal access key hashes to `key_hash`.
    pub async fn find_user_by_access_key(
        &self,
        tenant: TenantId,
        key_hash: &[u8],
    ) -> StoreResult<Option<User>> {
        let sql = format!("{SELECT_USERS} WHERE u.tenant_id = $1 AND u.access_key_hash = $2");
        let row: Option<UserRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(key_hash)
                .fetch_optional(pool)
                .await?
        });
        self.one_with_values(row).await
    }

    pub async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("{SELECT_USERS} WHERE u.tenant_id = $1 AND u.id = $2");
        let row: Option<UserRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        self.one_with_values(row).await
    }

    /// The user of `row`, if any, with its multi-valued attributes.
    pub(super) async fn one_with_values(&self, row: Option<UserRow>) -> StoreResult<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_values(vec![User::try_from(row)?]).await?.pop())
    }
}

impl Tx {
    /// Reads the user and locks it against other writers until the transaction ends.
    pub async fn lock_user(&mut self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!(
            "{SELECT_USERS} WHERE u.tenant_id = $1 AND u.id = $2{}",
            self.row_lock("u")
        );
        let row: Option<UserRow> = write!(self, |conn| {
            sqlx::query_as(&sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(conn)
                .await?
        });
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_values(vec![User::try_from(row)?]).await?.pop())
    }

    /// Inserts a new user with its profile; a taken email is [`Unique::UserEmail`].
    pub async fn insert_user(
        &mut self,
        user: &User,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let Sql { text, values } = insert_statement(&[(user, password_hash)]);
        write!(self, |conn| {
            bind_values!(sqlx::query(&text), values)
                .execute(conn)
                .await
                .map_err(|e| on_user_unique(e, user))?;
        });
        let one = CountChange {
            users: 1,
            ..Default::default()
        };
        self.change_counts(user.tenant_id, one, user.id.as_uuid())
            .await?;
        // A new user has no values to replace.
        self.insert_values(&[user]).await
    }

    /// Writes the user's profile fields if its stored version is still `expected`;
    /// `false` when it is not (changed or deleted meanwhile).
    pub async fn update_user(&mut self, user: &User, expected: i64) -> StoreResult<bool> {
        let Sql { text, values } = update_statement(user, expected);
        let result = write!(self, |conn| {
            bind_values!(sqlx::query(&text), values)
                .execute(conn)
                .await
                .map_err(|e| on_user_unique(e, user))?
                .rows_affected()
        });
        if result != 1 {
            return Ok(false);
        }
        self.write_values(user).await?;
        Ok(true)
    }

    /// Deletes the user, its memberships and values if its version is still
    /// `expected`; the users it managed are left without a manager.
    pub async fn delete_user(
        &mut self,
        tenant: TenantId,
        id: UserId,
        expected: i64,
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2 AND version = $3")
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(expected)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        if result != 1 {
            return Ok(false);
        }
        let gone = CountChange {
            users: -1,
            ..Default::default()
        };
        self.change_counts(tenant, gone, id.as_uuid()).await?;
        self.delete_derived_of_user(tenant, id).await?;
        // Their manager changes, so their versions (ETags) move.
        write!(self, |conn| {
            sqlx::query(
                "UPDATE users SET manager_id = NULL, version = version + 1 \
                 WHERE tenant_id = $1 AND manager_id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(id.as_uuid())
            .execute(conn)
            .await?;
        });
        Ok(true)
    }

    /// Replaces the user's personal access key.
    pub async fn set_access_key(
        &mut self,
        tenant: TenantId,
        user: UserId,
        key_hash: &[u8],
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query("UPDATE users SET access_key_hash = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(key_hash)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(result == 1)
    }

    /// Replaces the user's password hash (a PHC string) and records when.
    pub async fn set_password_hash(
        &mut self,
        tenant: TenantId,
        user: UserId,
        password_hash: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query(
                "UPDATE users SET password_hash = $3, password_changed_at = $4 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(password_hash)
            .bind(at)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(result == 1)
    }

    /// Runs `statement`, an UPDATE of one user whose `$1`, `$2` and `$3` are its
    /// tenant, its id and a time, answering whether the user was there.
    pub(super) async fn update_user_at(
        &mut self,
        statement: &'static str,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let result = write!(self, |conn| {
            sqlx::query(statement)
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(at)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(result == 1)
    }

    /// Records a change of the user made beside its own columns (its password, its
    /// two-factor credentials): its version rises and `updated_at` becomes `at`.
    /// Answers the new version (none: no such user).
    pub async fn touch_user(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<Option<i64>> {
        Ok(write!(self, |conn| {
            sqlx::query_scalar(
                "UPDATE users SET version = version + 1, updated_at = $3 \
                 WHERE tenant_id = $1 AND id = $2 RETURNING version",
            )
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .bind(at)
            .fetch_optional(conn)
            .await?
        }))
    }

    /// Replaces the password hash with a re-hash of the same password (new
    /// parameters), leaving when the password changed as it was.
    pub async fn replace_password_hash(
        &mut self,
        tenant: TenantId,
        user: UserId,
        password_hash: &str,
    ) -> StoreResult<()> {
        write!(self, |conn| {
            sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(password_hash)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Records a successful sign-in at `at` (which is also an action).
    pub async fn record_successful_login(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.update_user_at(
            "UPDATE users SET successful_logins = successful_logins + 1, \
             last_successful_login_at = $3, last_action_at = $3 \
             WHERE tenant_id = $1 AND id = $2",
            tenant,
            user,
            at,
        )
        .await
    }
}

/// The `n`th plain member of `tenant` with id `id`, as store tests write one:
/// `u{n}@example.com`, named `F{n} L{n}`.
#[cfg(test)]
pub(super) fn test_user(tenant: TenantId, id: UserId, n: u64) -> User {
    let now = Timestamp::now();
    let mut user = User {
        id,
        tenant_id: tenant,
        email: String::new(),
        user_name: None,
        first_name: format!("F{n}"),
        last_name: format!("L{n}"),
        profile: Default::default(),
        attributes: Default::default(),
        role: crate::domain::Role::Member,
        status: crate::domain::Status::Active,
        external_id: None,
        default_group_id: None,
        has_password: false,
        two_factor_enabled: false,
        login: Default::default(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    user.set_email(&format!("u{n}@example.com"));
    user
}
