//! What the benchmarks share: a `roster serve` process of their own, and reading its
//! memory.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use roster::domain::{LoginMetadata, Profile, Role, Status, TenantId, Timestamp, User, UserId};

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
    #[allow(dead_code)]
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
#[allow(dead_code)]
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
