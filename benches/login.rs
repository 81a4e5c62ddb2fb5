//! Sign-in throughput against the raw throughput of the same Argon2id parameters on
//! the same machine (target: at least 85%), and the time of a sign-in with an unknown
//! email against one with a wrong password (they should not differ).
//!
//! `cargo bench --bench login`. ROSTER_BENCH_SECONDS sets each run's length.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

const TOKEN: &str = "login-bench-operator-token-000001";
const PASSWORD: &str = "correct horse battery staple";

fn argon2() -> Argon2<'static> {
    let defaults = roster::auth::PasswordParams::default();
    let params = Params::new(
        defaults.memory_kib,
        defaults.iterations,
        defaults.parallelism,
        None,
    )
    .expect("params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verifications per second on every core, the work a sign-in cannot avoid.
fn raw_verifications_per_second(seconds: f64) -> f64 {
    let salt = SaltString::encode_b64(b"benchmark-salt-1").expect("salt");
    let hash = argon2()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .expect("hash")
        .to_string();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, done) = (hash.clone(), done.clone());
            std::thread::spawn(move || {
                let argon2 = argon2();
                let parsed = PasswordHash::new(&hash).expect("parse");
                while Instant::now() < deadline {
                    argon2
                        .verify_password(PASSWORD.as_bytes(), &parsed)
                        .expect("verifies");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::var("ROSTER_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("login.db").display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database_url,
            "--log-level",
            "warn",
        ])
        .args([
            "--login-max-attempts-per-address",
            "100000000",
            "--lockout-max-failures",
            "100000000",
        ])
        .env("ROSTER_BOOTSTRAP_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("roster serve");
    let addr = std::io::BufReader::new(server.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("roster listening on ").map(str::to_owned))
        .expect("the server listens");

    let raw = raw_verifications_per_second(seconds);
    println!("raw Argon2id verifications (m=19456 KiB, t=2, p=1, every core): {raw:.1}/s");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let tenant: serde_json::Value = client
            .post(format!("{addr}/v1/tenants"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"name": "Bench"}))
            .send().await.expect("tenant").json().await.expect("JSON");
        let tenant = tenant["id"].as_str().expect("id").to_owned();
        let created = client
            .post(format!("{addr}/v1/tenants/{tenant}/users"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"email": "bench@example.com", "firstName": "B", "lastName": "L", "password": PASSWORD}))
            .send().await.expect("user");
        assert_eq!(created.status(), 201);
        let login_url = format!("{addr}/v1/tenants/{tenant}/auth/login");

        // Throughput: more concurrent clients than cores, for as long as the raw run.
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (client, url, done) = (client.clone(), login_url.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let response = client
                            .post(&url)
                            .json(&serde_json::json!({"email": "bench@example.com", "password": PASSWORD}))
                            .send().await.expect("login");
                        assert_eq!(response.status(), 200);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.expect("client");
        }
        let logins = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!("sign-ins over HTTP (8 concurrent clients): {logins:.1}/s = {:.1}% of raw", 100.0 * logins / raw);

        // Timing: unknown email against wrong password, alternating, one at a time.
        let mut unknown = Vec::new();
        let mut wrong = Vec::new();
        for i in 0..60 {
            let (email, samples) = if i % 2 == 0 { ("nobody@example.com", &mut unknown) } else { ("bench@example.com", &mut wrong) };
            let started = Instant::now();
            let response = client
                .post(&login_url)
                .json(&serde_json::json!({"email": email, "password": "not the password at all"}))
                .send().await.expect("login");
            assert_eq!(response.status(), 401);
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let stats = |samples: &mut Vec<f64>| {
            samples.sort_by(|a, b| a.total_cmp(b));
            (samples.iter().sum::<f64>() / samples.len() as f64, samples[samples.len() / 2])
        };
        let (unknown_mean, unknown_median) = stats(&mut unknown);
        let (wrong_mean, wrong_median) = stats(&mut wrong);
        println!("unknown email:  mean {unknown_mean:.2} ms, median {unknown_median:.2} ms (30 sign-ins)");
        println!("wrong password: mean {wrong_mean:.2} ms, median {wrong_median:.2} ms (30 sign-ins)");
    });
    let _ = server.kill();
    let _ = server.wait();
}
