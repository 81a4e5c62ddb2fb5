//! Sign-in throughput against the raw throughput of the same Argon2id parameters on
//! the same machine (target: at least 85%), and the time of a sign-in with an unknown
//! email against one with a wrong password (they should not differ).
//!
//! `cargo bench --bench login`. ROSTER_BENCH_SECONDS sets the length of the raw and of the HTTP
//! throughput runs (each split into four alternating rounds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

mod support;

use support::BenchServer;

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

/// Verifications per second on every core, the work a sign-in cannot avoid: one
/// thread per core, each hashing in memory it keeps (the fastest use of the crate).
/// Answers the verifications done and the seconds they took.
fn raw_verifications(seconds: f64) -> (f64, f64) {
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
                let expected = parsed.hash.expect("output");
                let mut salt = [0u8; 64];
                let salt = parsed
                    .salt
                    .expect("salt")
                    .decode_b64(&mut salt)
                    .expect("salt");
                let mut memory = vec![Block::default(); argon2.params().block_count()];
                let mut out = vec![0u8; expected.len()];
                while Instant::now() < deadline {
                    argon2
                        .hash_password_into_with_memory(
                            PASSWORD.as_bytes(),
                            salt,
                            &mut out,
                            &mut memory,
                        )
                        .expect("hashes");
                    assert_eq!(out, expected.as_bytes(), "verifies");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    (
        done.load(Ordering::Relaxed) as f64,
        started.elapsed().as_secs_f64(),
    )
}

fn main() {
    let seconds: f64 = support::setting("ROSTER_BENCH_SECONDS", 10.0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("login.db").display());
    let server = BenchServer::start(
        &database_url,
        TOKEN,
        &[
            "--login-max-attempts-per-address",
            "100000000",
            "--lockout-max-failures",
            "100000000",
        ],
    );
    let addr = server.addr.clone();

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

        // Throughput, in rounds that alternate the raw run and sign-ins over HTTP (more
        // concurrent clients than cores), so that the machine's drift in speed
        // weighs on both alike.
        const ROUNDS: u32 = 4;
        let (mut raw_count, mut raw_time, mut http_count, mut http_time) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..ROUNDS {
            let (count, time) = raw_verifications(seconds / f64::from(ROUNDS));
            raw_count += count;
            raw_time += time;
            let done = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs_f64(seconds / f64::from(ROUNDS));
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
            http_count += done.load(Ordering::Relaxed) as f64;
            http_time += started.elapsed().as_secs_f64();
        }
        let raw = raw_count / raw_time;
        let logins = http_count / http_time;
        println!("raw Argon2id verifications (m=19456 KiB, t=2, p=1, every core): {raw:.1}/s");
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

        // Memory under a flood: 1,000 sign-ins at once.
        let before = server.memory_kib();
        let flood: Vec<_> = (0..1000)
            .map(|_| {
                let (client, url) = (client.clone(), login_url.clone());
                tokio::spawn(async move {
                    client
                        .post(&url)
                        .json(&serde_json::json!({"email": "bench@example.com", "password": PASSWORD}))
                        .send().await.map(|r| r.status().as_u16()).unwrap_or(0)
                })
            })
            .collect();
        let started = Instant::now();
        let mut succeeded = 0;
        for f in flood {
            succeeded += usize::from(f.await.expect("client") == 200);
        }
        let after = server.memory_kib();
        println!(
            "flood of 1000 concurrent sign-ins: {succeeded} succeeded in {:.1} s; server resident {:.1} MiB after it, peak {:.1} MiB (peak before it {:.1} MiB)",
            started.elapsed().as_secs_f64(),
            after.0 as f64 / 1024.0,
            after.1 as f64 / 1024.0,
            before.1 as f64 / 1024.0,
        );
    });
    drop(server);
}
