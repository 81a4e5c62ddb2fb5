//! What the benchmarks share: a `roster serve` process of their own, reading its
//! memory, seeding users through the store's bulk insert, and summing up timings. Each
//! benchmark uses part of it.
#![allow(dead_code)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use roster::domain::{
    Group, GroupId, GroupOwner, LoginMetadata, Profile, Role, Status, TenantId, Timestamp, User,
    UserId,
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

/// The value of the environment variable `name`, else `default` (also when it does
/// not parse).
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The database a benchmark runs on: ROSTER_BENCH_DATABASE_URL (an empty PostgreSQL
/// database), else the SQLite file `file` in `dir`.
pub fn database_url(dir: &std::path::Path, file: &str) -> String {
    std::env::var("ROSTER_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join(file).display()))
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

/// Writes the users `seed_user` makes for 0..`users` by the store's bulk insert (an
/// import's), 5,000 to a transaction; answers their ids in order.
pub async fn insert_seeded_users(
    database_url: &str,
    tenant: TenantId,
    users: usize,
) -> Vec<UserId> {
    let store = Store::connect(database_url, &Default::default())
        .await
        .expect("open");
    let mut ids = Vec::with_capacity(users);
    for start in (0..users).step_by(USERS_PER_TX) {
        let batch: Vec<(User, Option<String>)> = (start..(start + USERS_PER_TX).min(users))
            .map(|i| (seed_user(tenant, i), None))
            .collect();
        let mut tx = store.begin().await.expect("begin");
        tx.insert_users(&batch, true).await.expect("users");
        tx.commit().await.expect("commit");
        ids.extend(batch.iter().map(|(u, _)| u.id));
    }
    store.close().await;
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
