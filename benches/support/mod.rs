//! What the benchmarks share: a `roster serve` process of their own, and reading its
//! memory.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

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
