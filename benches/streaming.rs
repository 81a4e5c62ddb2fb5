//! Streams a tenant of 100,000 users through the two unpaged vendor lists (Anodot's
//! `GET /api/v2/users`, SixEye's `GET /users`) from a `roster serve` process, and
//! reports how far the server's resident memory rises while each list streams.
//! Target: under 30 MB.
//!
//! `cargo bench --bench streaming` (SQLite), or with ROSTER_BENCH_DATABASE_URL set to
//! an empty PostgreSQL database. ROSTER_BENCH_USERS changes the tenant's size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roster::domain::{GroupId, Role, TenantId, Timestamp};
use roster::store::Store;

mod support;

use support::BenchServer;

const TOKEN: &str = "streaming-bench-operator-token-0001";

/// Inserts `count` users (every tenth in a group) straight into the store, in
/// transactions of 5,000.
async fn seed(database_url: &str, tenant: TenantId, group: GroupId, count: usize) {
    let store = Store::connect(database_url, &Default::default())
        .await
        .expect("open");
    let mut made = 0;
    while made < count {
        let mut tx = store.begin().await.expect("begin");
        for i in made..(made + 5000).min(count) {
            // The profile as a user of another face has it: its email, a work phone
            // and, for every fiftieth, the admin role.
            let mut user = support::seed_user(tenant, i);
            user.profile.set_work_phone(Some("+1 234 567 890".into()));
            if i % 50 == 0 {
                user.set_role(Role::Admin);
            }
            tx.insert_user(&user, None).await.expect("insert");
            if i % 10 == 0 {
                tx.add_memberships(tenant, &[(group, user.id)], Timestamp::now())
                    .await
                    .expect("member");
            }
        }
        tx.commit().await.expect("commit");
        made = (made + 5000).min(count);
    }
    store.close().await;
}

struct Measurement {
    bytes: u64,
    items: usize,
    seconds: f64,
    before_kib: u64,
    peak_kib: u64,
}

async fn measure(client: &reqwest::Client, url: &str, token: &str, pid: u32) -> Measurement {
    let before_kib = support::memory_kib(pid).0;
    let peak = Arc::new(AtomicU64::new(before_kib));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(support::memory_kib(pid).0, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let mut response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        body.extend_from_slice(&chunk);
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
    let items = parsed
        .as_array()
        .or_else(|| parsed["data"].as_array())
        .map_or(0, Vec::len);
    Measurement {
        bytes: body.len() as u64,
        items,
        seconds,
        before_kib,
        peak_kib: peak.load(Ordering::Relaxed),
    }
}

fn main() {
    let count: usize = support::setting("ROSTER_BENCH_USERS", 100_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = support::database_url(dir.path(), "bench.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let server = BenchServer::start(&database_url, TOKEN, &[]);
    let addr = server.addr.clone();
    let pid = server.pid();

    runtime.block_on(async {
        let client = reqwest::Client::new();
        let tenant: serde_json::Value = client
            .post(format!("{addr}/v1/tenants"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"name": "Bench"}))
            .send()
            .await
            .expect("tenant")
            .json()
            .await
            .expect("tenant JSON");
        let tenant_id = tenant["id"].as_str().expect("id").to_owned();
        let key: serde_json::Value = client
            .post(format!("{addr}/v1/tenants/{tenant_id}/api-keys"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"name": "bench", "role": "reader"}))
            .send()
            .await
            .expect("key")
            .json()
            .await
            .expect("key JSON");
        let secret = key["secret"].as_str().expect("secret").to_owned();
        let group: serde_json::Value = client
            .post(format!("{addr}/v1/tenants/{tenant_id}/groups"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"name": "Every tenth"}))
            .send()
            .await
            .expect("group")
            .json()
            .await
            .expect("group JSON");

        let seeding = Instant::now();
        seed(
            &database_url,
            TenantId::parse(&tenant_id).expect("tenant id"),
            GroupId::parse(group["id"].as_str().expect("group id")).expect("group id"),
            count,
        )
        .await;
        println!("seeded {count} users in {:.1} s", seeding.elapsed().as_secs_f64());
        println!("server resident memory at rest: {:.1} MiB", support::memory_kib(pid).0 as f64 / 1024.0);

        // The first pass of each list starts from the server at rest (its growth
        // includes connection pools and allocator arenas filling); the second shows
        // the steady state.
        for (face, path, pass) in [
            ("anodot", "/api/v2/users", 1),
            ("anodot", "/api/v2/users", 2),
            ("sixeye", "/users", 1),
            ("sixeye", "/users", 2),
        ] {
            let m = measure(&client, &format!("{addr}{path}"), &secret, pid).await;
            assert_eq!(m.items, count, "{face} listed every user");
            println!(
                "{face:7} GET {path:14} pass {pass}  {:>7} users  {:>6.1} MB  {:>5.2} s  {:>8.0} users/s  \
                 RSS {:.1} -> peak {:.1} MiB (+{:.1} MiB)",
                m.items,
                m.bytes as f64 / 1e6,
                m.seconds,
                m.items as f64 / m.seconds,
                m.before_kib as f64 / 1024.0,
                m.peak_kib as f64 / 1024.0,
                m.peak_kib.saturating_sub(m.before_kib) as f64 / 1024.0,
            );
        }
    });
    drop(server);
}
