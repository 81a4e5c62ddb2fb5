//! What the benchmarks share: a `roster serve` process of their own, reading its
//! memory, seeding users straight into its database, and summing up timings. Each
//! benchmark uses part of it.
#![allow(dead_code)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use roster::domain::{
    Group, GroupId, GroupOwner, LoginMetadata, Profile, Role, Status, TenantId, Timestamp, User,
    UserId, ValueList, fold_case,
};
use roster::store::Store;

/// `roster serve` (the release build) on a free loopback port, with `token` as its
/// operator credential; killed when dropped.
pub struct BenchServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
}

impl BenchServer {
    pub fn start(database_url: &str, token: &str, extra_args: &[&str]) -> BenchServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(["--log-level", "warn"])
            .args(extra_args)
            .env("ROSTER_BOOTSTRAP_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("roster serve");
        let addr = std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("roster listening on ").map(str::to_owned))
            .expect("the server listens");
        BenchServer { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident and peak resident memory in KiB (Linux: VmRSS, VmHWM).
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.pid())
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident and peak resident memory in KiB (Linux: VmRSS, VmHWM).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `i`th user of a seeded tenant, as a user of another face is stored: its
/// email (`user{i}@bench.example`, also its one `emails` value) and names.
pub fn seed_user(tenant: TenantId, i: usize) -> User {
    let now = Timestamp::now();
    let mut user = User {
        id: UserId::generate(),
        tenant_id: tenant,
        email: format!("user{i}@bench.example"),
        user_name: None,
        first_name: format!("First{i}"),
        last_name: format!("Last{i}"),
        profile: Profile::default(),
        attributes: Default::default(),
        role: Role::Member,
        status: Status::Active,
        external_id: None,
        default_group_id: None,
        has_password: false,
        two_factor_enabled: false,
        login: LoginMetadata::default(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let email = user.email.clone();
    user.set_email(&email);
    user
}

/// Rows one plain INSERT of users or their values writes (14 values a row, under
/// SQLite's 32,766 parameters).
const ROWS_PER_INSERT: usize = 1000;

/// The users table's columns as the store's `insert_user` writes them, in its order.
const USER_COLUMNS: &str = "INSERT INTO users (tenant_id, id, password_hash, \
    password_changed_at, created_at, email, email_key, first_name, first_name_key, last_name, \
    last_name_key, role, status, external_id, version, updated_at, user_name, user_name_key, \
    display_name, display_name_key, nick_name, profile_url, title, user_type, \
    preferred_language, locale, timezone, name_formatted, middle_name, honorific_prefix, \
    honorific_suffix, employee_number, cost_center, organization, division, department, \
    manager_id) ";

/// The user_values columns of a multi-valued attribute's value (addresses have others).
const VALUE_COLUMNS: &str = "INSERT INTO user_values (tenant_id, user_id, attribute, \
    position, value, value_key, type, is_primary, display) ";

/// One row of user_values: user, attribute, position, value, value_key, type,
/// is_primary, display.
type ValueRow = (
    UserId,
    &'static str,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<String>,
);

/// The user_values rows of a user, as the store writes them: each value of each list,
/// in the list's order.
fn value_rows(user: &User) -> Vec<ValueRow> {
    assert!(
        user.profile.addresses.is_empty(),
        "no addresses in the bench"
    );
    ValueList::ALL
        .into_iter()
        .flat_map(|list| {
            user.profile
                .list(list)
                .iter()
                .enumerate()
                .map(move |(position, item)| {
                    (
                        user.id,
                        list.as_str(),
                        position as i64,
                        item.value.clone(),
                        item.value.as_deref().map(fold_case),
                        item.kind.clone(),
                        item.primary,
                        item.display.clone(),
                    )
                })
        })
        .collect()
}

/// The bench's own pool on the store's database, for the plain SQL.
pub enum Raw {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// Writes `users` and their values in one transaction of multi-row INSERT statements
/// on `$pool` of database `$db`.
macro_rules! insert_users {
    ($db:ty, $pool:expr, $users:expr) => {{
        let users: &[User] = $users;
        let mut tx = $pool.begin().await.expect("begin");
        for chunk in users.chunks(ROWS_PER_INSERT / 2) {
            let mut insert = sqlx::QueryBuilder::<$db>::new(USER_COLUMNS);
            insert.push_values(chunk, |mut row, u| {
                let p = &u.profile;
                let e = &p.enterprise;
                row.push_bind(u.tenant_id.as_uuid())
                    .push_bind(u.id.as_uuid())
                    .push_bind(None::<String>)
                    .push_bind(u.login.password_changed_at)
                    .push_bind(u.created_at)
                    .push_bind(u.email.clone())
                    .push_bind(fold_case(&u.email))
                    .push_bind(u.first_name.clone())
                    .push_bind(fold_case(&u.first_name))
                    .push_bind(u.last_name.clone())
                    .push_bind(fold_case(&u.last_name))
                    .push_bind(u.role.as_str().to_owned())
                    .push_bind(u.status.as_str().to_owned())
                    .push_bind(u.external_id.clone())
                    .push_bind(u.version)
                    .push_bind(u.updated_at)
                    .push_bind(u.user_name.clone())
                    .push_bind(fold_case(u.user_name()))
                    .push_bind(p.display_name.clone())
                    .push_bind(p.display_name.as_deref().map(fold_case))
                    .push_bind(p.nick_name.clone())
                    .push_bind(p.profile_url.clone())
                    .push_bind(p.title.clone())
                    .push_bind(p.user_type.clone())
                    .push_bind(p.preferred_language.clone())
                    .push_bind(p.locale.clone())
                    .push_bind(p.timezone.clone())
                    .push_bind(p.name.formatted.clone())
                    .push_bind(p.name.middle_name.clone())
                    .push_bind(p.name.honorific_prefix.clone())
                    .push_bind(p.name.honorific_suffix.clone())
                    .push_bind(e.employee_number.clone())
                    .push_bind(e.cost_center.clone())
                    .push_bind(e.organization.clone())
                    .push_bind(e.division.clone())
                    .push_bind(e.department.clone())
                    .push_bind(e.manager.as_ref().map(|m| m.id.as_uuid()));
            });
            insert.build().execute(&mut *tx).await.expect("users");
        }
        let values: Vec<ValueRow> = users.iter().flat_map(value_rows).collect();
        for chunk in values.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<$db>::new(VALUE_COLUMNS);
            insert.push_values(chunk, |mut row, v| {
                row.push_bind(users[0].tenant_id.as_uuid())
                    .push_bind(v.0.as_uuid())
                    .push_bind(v.1)
                    .push_bind(v.2)
                    .push_bind(v.3.clone())
                    .push_bind(v.4.clone())
                    .push_bind(v.5.clone())
                    .push_bind(v.6)
                    .push_bind(v.7.clone());
            });
            insert.build().execute(&mut *tx).await.expect("values");
        }
        tx.commit().await.expect("commit");
    }};
}

impl Raw {
    pub async fn connect(url: &str) -> Raw {
        if url.starts_with("postgres") {
            Raw::Postgres(sqlx::PgPool::connect(url).await.expect("open"))
        } else {
            Raw::Sqlite(sqlx::SqlitePool::connect(url).await.expect("open"))
        }
    }

    /// Writes the users (all of one tenant) and their values.
    pub async fn insert_users(&self, users: &[User]) {
        match self {
            Raw::Postgres(pool) => insert_users!(sqlx::Postgres, pool, users),
            Raw::Sqlite(pool) => insert_users!(sqlx::Sqlite, pool, users),
        }
    }

    pub async fn close(&self) {
        match self {
            Raw::Postgres(pool) => pool.close().await,
            Raw::Sqlite(pool) => pool.close().await,
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median and the 95th percentile (nearest rank) of some durations, in ms.
pub fn median_p95(times: &[Duration]) -> (f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank =
        |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    (ms(rank(0.5)), ms(rank(0.95)))
}

/// Users and memberships written per transaction while seeding.
const USERS_PER_TX: usize = 5000;

/// A group of `tenant` named `name`, as the store keeps one.
pub fn seed_group(tenant: TenantId, name: String) -> Group {
    let now = Timestamp::now();
    Group {
        id: GroupId::generate(),
        tenant_id: tenant,
        name,
        description: String::new(),
        owner: GroupOwner::Local,
        federated_attribute_values: Vec::new(),
        external_id: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Writes the users `seed_user` makes for 0..`users` straight into the database,
/// 5,000 to a transaction of multi-row statements; answers their ids in order.
pub async fn insert_seeded_users(
    database_url: &str,
    tenant: TenantId,
    users: usize,
) -> Vec<UserId> {
    let raw = Raw::connect(database_url).await;
    let mut ids = Vec::with_capacity(users);
    for start in (0..users).step_by(USERS_PER_TX) {
        let batch: Vec<User> = (start..(start + USERS_PER_TX).min(users))
            .map(|i| seed_user(tenant, i))
            .collect();
        raw.insert_users(&batch).await;
        ids.extend(batch.iter().map(|u| u.id));
    }
    raw.close().await;
    ids
}

/// Makes the `i`th user a direct member of `group_of(i)`, by the store's own code,
/// 5,000 memberships to a transaction.
pub async fn add_seeded_memberships(
    store: &Store,
    tenant: TenantId,
    ids: &[UserId],
    group_of: impl Fn(usize) -> GroupId,
) {
    for start in (0..ids.len()).step_by(USERS_PER_TX) {
        let memberships: Vec<(GroupId, UserId)> = (start..(start + USERS_PER_TX).min(ids.len()))
            .map(|i| (group_of(i), ids[i]))
            .collect();
        let mut tx = store.begin().await.expect("begin");
        tx.lock_memberships(tenant, false).await.expect("lock");
        tx.add_memberships(tenant, &memberships, Timestamp::now())
            .await
            .expect("memberships");
        tx.commit().await.expect("commit");
    }
}
