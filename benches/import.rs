//! Import and export at scale, timed as an operator runs them: `roster import` and
//! `roster export` (the release build) as processes of their own, on the database
//! directly and through a running `roster serve` (`--server`). Each run's wall time
//! gives the rate; its peak resident memory (`VmHWM`, read from /proc while it runs)
//! the memory of the process that did the work, beside the server's for `--server`.
//!
//! The file: ROSTER_BENCH_USERS users (default 1,000,000) in Roster's NDJSON, each
//! with an email, names, a title, a department, an external id and a bcrypt hash
//! (pre-hashed passwords, as a migration brings them); in the second file, each is
//! also a member of one of 100 groups. Files are written once to
//! `target/bench-import/` and reused.
//!
//! `cargo bench --bench import` (a SQLite file), or with ROSTER_BENCH_DATABASE_URL set
//! to an empty PostgreSQL database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod support;

use support::BenchServer;

const TOKEN: &str = "import-bench-operator-token-0001";
const GROUPS: usize = 100;
/// A bcrypt hash (cost 4, made by Python's bcrypt) of "correct horse battery staple 1".
const BCRYPT: &str = "$2b$04$qzLtedBOH.WbDgl38e3Kg.q4QywQX30Z/8CkzGMV1GvXKAXemx2m2";

/// Writes the bench file of `users` users (members of groups when `grouped`) unless
/// it is there already.
fn bench_file(users: usize, grouped: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-import");
    std::fs::create_dir_all(&dir).expect("target/bench-import");
    let name = if grouped { "grouped" } else { "users" };
    let path = dir.join(format!("{name}-{users}.ndjson"));
    if path.exists() {
        return path;
    }
    let partial = path.with_extension("partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).expect("bench file"));
    if grouped {
        for g in 0..GROUPS {
            let line =
                json!({"object": "group", "name": format!("team-{g:03}"), "description": "A team"});
            writeln!(out, "{line}").expect("write");
        }
    }
    for i in 0..users {
        let mut line = json!({
            "object": "user",
            "email": format!("user{i}@import.example"),
            "firstName": format!("First{i}"),
            "lastName": format!("Last{}", i % 9973),
            "externalId": format!("hr-{i:08}"),
            "passwordHash": BCRYPT,
            "profile": {"title": "Engineer", "department": format!("Dept {}", i % 50)},
        });
        if grouped {
            line["groups"] = json!([format!("team-{:03}", i % GROUPS)]);
        }
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
    drop(out);
    std::fs::rename(&partial, &path).expect("rename");
    path
}

/// A finished process's exit status, wall time and peak resident memory (KiB).
struct Run {
    ok: bool,
    wall: Duration,
    peak_kib: i64,
}

/// Runs `roster ARGS` to its end, timing it and reading its peak memory: the
/// process's own high-water mark (`VmHWM`), read every 10 ms while it runs. (What
/// `wait4` reports would not do: a child's peak starts from its parent's, which its
/// first moments share, and this process reads whole files.)
// The child is reaped by `wait4`, not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run(args: &[&str], env: &[(&str, &str)], stdout: Option<&Path>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::null());
    command.stdout(match stdout {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("output")),
        None => Stdio::null(),
    });
    let started = Instant::now();
    let child = command.spawn().expect("roster");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut peak_kib = 0;
    loop {
        peak_kib = peak_kib.max(support::memory_kib(child.id()).1 as i64);
        // SAFETY: polls our own child; `status` is ours to fill.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "waitpid");
        std::thread::sleep(Duration::from_millis(10));
    }
    Run {
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        wall: started.elapsed(),
        peak_kib,
    }
}

fn tenant(url: &str, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["tenant", "create", "--name", name, "--database-url", url])
        .stderr(Stdio::null())
        .output()
        .expect("roster tenant create");
    assert!(out.status.success(), "tenant create");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn line_count(path: &Path) -> usize {
    use std::io::BufRead;
    std::fs::File::open(path)
        .map(|file| std::io::BufReader::new(file).lines().count())
        .unwrap_or(0)
}

fn report(what: &str, users: usize, run: &Run, server_peak_kib: Option<u64>) {
    let rate = users as f64 / run.wall.as_secs_f64();
    let server = server_peak_kib
        .map(|kib| format!(", server peak {:.0} MiB", kib as f64 / 1024.0))
        .unwrap_or_default();
    println!(
        "{what:<44} {users:>9} users in {:>7.1} s = {rate:>8.0} users/s, process peak {:>4.0} MiB{server}{}",
        run.wall.as_secs_f64(),
        run.peak_kib as f64 / 1024.0,
        if run.ok { "" } else { "  (FAILED)" },
    );
}

fn main() {
    let users: usize = support::setting("ROSTER_BENCH_USERS", 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = support::database_url(dir.path(), "bench.db");
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("import and export of {users} users on {backend}");
    let plain = bench_file(users, false);
    let grouped = bench_file(users, true);

    // Straight into the database.
    let t = tenant(&url, "direct");
    let direct = run(
        &[
            "import",
            "--tenant",
            &t,
            "--database-url",
            &url,
            plain.to_str().unwrap(),
        ],
        &[],
        None,
    );
    report("import, database, users", users, &direct, None);

    let again = run(
        &[
            "import",
            "--tenant",
            &t,
            "--database-url",
            &url,
            plain.to_str().unwrap(),
        ],
        &[],
        None,
    );
    report("import again, all unchanged", users, &again, None);

    let t2 = tenant(&url, "grouped");
    let with_groups = run(
        &[
            "import",
            "--tenant",
            &t2,
            "--database-url",
            &url,
            grouped.to_str().unwrap(),
        ],
        &[],
        None,
    );
    report(
        "import, database, users in 100 groups",
        users,
        &with_groups,
        None,
    );

    // The export of the first tenant, then that export into an empty tenant.
    let exported = dir.path().join("export.ndjson");
    let export = run(
        &[
            "export",
            "--tenant",
            &t,
            "--database-url",
            &url,
            "--output",
            exported.to_str().unwrap(),
        ],
        &[],
        None,
    );
    report("export, database", users, &export, None);
    println!("  export: {} lines", line_count(&exported));

    // Through a running server.
    let server = BenchServer::start(&url, TOKEN, &[]);
    let t3 = tenant(&url, "served");
    let served = run(
        &[
            "import",
            "--tenant",
            &t3,
            "--server",
            &server.addr,
            plain.to_str().unwrap(),
        ],
        &[("ROSTER_TOKEN", TOKEN)],
        None,
    );
    report(
        "import, --server, users",
        users,
        &served,
        Some(server.memory_kib().1),
    );
    let served_export = run(
        &[
            "export",
            "--tenant",
            &t3,
            "--server",
            &server.addr,
            "--output",
            dir.path().join("served.ndjson").to_str().unwrap(),
        ],
        &[("ROSTER_TOKEN", TOKEN)],
        None,
    );
    report(
        "export, --server",
        users,
        &served_export,
        Some(server.memory_kib().1),
    );
}
