//! The lists of every face as a tenant grows: the same requests, one at a time,
//! against tenants of 1,000, 100,000 and 1,000,000 users in one database
//! (`ROSTER_BENCH_SIZES`, comma-separated), each read 30 times (`ROSTER_BENCH_REPEATS`)
//! and timed at the client. The tenants' users are written by the store's bulk
//! insert (an import's), every tenth a member of one group, with `ANALYZE` after
//! the users and again at the end; the requests start once the last user's id is a
//! minute old, as a tenant's users are in service (a numbered page is remembered
//! only at settled ids, see `store/positions.rs`).
//!
//! Each row prints the first request's time (nothing remembered yet), the median
//! and the 95th percentile in ms at each size, and the ratio of the largest tenant's
//! median to the smallest's: the goal is at most 1.5.
//!
//! `cargo bench --bench scale` (a SQLite file), or with ROSTER_BENCH_DATABASE_URL set
//! to an empty PostgreSQL database.

use std::time::{Duration, Instant};

use roster::domain::{GroupId, TenantId};
use roster::store::Store;
use serde_json::{Value, json};

mod support;

use support::{BenchServer, median_p95, ms};

const TOKEN: &str = "scale-bench-operator-token-00001";

/// How a request authenticates: as the product's own clients do.
#[derive(Clone, Copy)]
enum Auth {
    None,
    Bearer,
    /// Tyk: the key itself in `authorization`.
    Tyk,
}

/// A request, its path made for a tenant of `n` users.
struct Probe {
    name: &'static str,
    auth: Auth,
    path: fn(&Tenant) -> String,
}

struct Tenant {
    id: String,
    key: String,
    group: String,
    users: usize,
}

fn probes() -> Vec<Probe> {
    vec![
        Probe {
            name: "/healthz",
            auth: Auth::None,
            path: |_| "/healthz".into(),
        },
        Probe {
            name: "SCIM page 1 (count=100, with totalResults)",
            auth: Auth::Bearer,
            path: |_| "/scim/v2/Users?startIndex=1&count=100".into(),
        },
        Probe {
            name: "SCIM count=0 (totalResults alone)",
            auth: Auth::Bearer,
            path: |_| "/scim/v2/Users?count=0".into(),
        },
        Probe {
            name: "SCIM middle page",
            auth: Auth::Bearer,
            path: |t| format!("/scim/v2/Users?startIndex={}&count=100", t.users / 2 + 1),
        },
        Probe {
            name: "SCIM last page",
            auth: Auth::Bearer,
            path: |t| format!("/scim/v2/Users?startIndex={}&count=100", t.users - 99),
        },
        Probe {
            name: "SCIM userName eq",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/scim/v2/Users?filter=userName%20eq%20%22user{}%40bench.example%22",
                    t.users / 2
                )
            },
        },
        Probe {
            name: "SCIM name.familyName eq",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/scim/v2/Users?filter=name.familyName%20eq%20%22Last{}%22",
                    t.users / 2
                )
            },
        },
        Probe {
            name: "SCIM emails.value eq",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/scim/v2/Users?filter=emails.value%20eq%20%22user{}%40bench.example%22",
                    t.users / 2
                )
            },
        },
        Probe {
            name: "SCIM userName sw \"user1\" (11% match, count=100)",
            auth: Auth::Bearer,
            path: |_| "/scim/v2/Users?filter=userName%20sw%20%22user1%22&count=100".into(),
        },
        Probe {
            name: "SCIM active eq true (all match, count=100)",
            auth: Auth::Bearer,
            path: |_| "/scim/v2/Users?filter=active%20eq%20true&count=100".into(),
        },
        Probe {
            name: "Dynatrace page 1 (pageSize=100)",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/iam/v1/accounts/{}/users/groups?pageNumber=1&pageSize=100",
                    t.id
                )
            },
        },
        Probe {
            name: "Dynatrace last page",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/iam/v1/accounts/{}/users/groups?pageNumber={}&pageSize=100",
                    t.id,
                    t.users / 100
                )
            },
        },
        Probe {
            name: "Tyk page 1 (with the page count)",
            auth: Auth::Tyk,
            path: |_| "/api/users?p=1".into(),
        },
        Probe {
            name: "Tyk last page",
            auth: Auth::Tyk,
            path: |t| format!("/api/users?p={}", t.users / 10),
        },
        Probe {
            name: "v1 first page (limit=50)",
            auth: Auth::Bearer,
            path: |t| format!("/v1/tenants/{}/users?limit=50", t.id),
        },
        Probe {
            name: "v1 q=user1 (11% match)",
            auth: Auth::Bearer,
            path: |t| format!("/v1/tenants/{}/users?q=user1&limit=50", t.id),
        },
        Probe {
            name: "v1 q=user{n/2+7} (one match)",
            auth: Auth::Bearer,
            path: |t| {
                format!(
                    "/v1/tenants/{}/users?q=user{}&limit=50",
                    t.id,
                    t.users / 2 + 7
                )
            },
        },
        Probe {
            name: "v1 group members, first page",
            auth: Auth::Bearer,
            path: |t| format!("/v1/tenants/{}/groups/{}/members?limit=50", t.id, t.group),
        },
    ]
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ROSTER_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("ROSTER_BENCH_SIZES: numbers"))
        .collect();
    let repeats: usize = support::setting("ROSTER_BENCH_REPEATS", 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = support::database_url(dir.path(), "scale.db");
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let server = BenchServer::start(&url, TOKEN, &[]);
    let addr = server.addr.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let post = |path: String, token: String, body: Value| {
            let client = client.clone();
            let addr = addr.clone();
            async move {
                let response = client
                    .post(format!("{addr}{path}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                response.json::<Value>().await.expect("JSON")
            }
        };
        let store = Store::connect(&url, &Default::default())
            .await
            .expect("store");
        let mut tenants = Vec::new();
        let mut last_seeded = Instant::now();
        for &users in &sizes {
            let started = Instant::now();
            let tenant = post(
                "/v1/tenants".into(),
                TOKEN.into(),
                json!({"name": format!("t{users}")}),
            )
            .await;
            let id = tenant["id"].as_str().expect("id").to_owned();
            let key = post(
                format!("/v1/tenants/{id}/api-keys"),
                TOKEN.into(),
                json!({"name": "bench", "role": "admin"}),
            )
            .await["secret"]
                .as_str()
                .expect("secret")
                .to_owned();
            let group = post(
                format!("/v1/tenants/{id}/groups"),
                key.clone(),
                json!({"name": "every tenth"}),
            )
            .await;
            let group = group["id"].as_str().expect("id").to_owned();
            let tenant_id = TenantId::parse(&id).expect("tenant id");
            let ids = support::insert_seeded_users(&url, tenant_id, users).await;
            // Planned without statistics of a million users, PostgreSQL adds the
            // memberships below a hundred times slower (see "Nested groups").
            store.refresh_statistics().await.expect("ANALYZE");
            let every_tenth: Vec<_> = ids.iter().step_by(10).copied().collect();
            let group_id = GroupId::parse(&group).expect("group id");
            support::add_seeded_memberships(&store, tenant_id, &every_tenth, |_| group_id).await;
            last_seeded = Instant::now();
            eprintln!(
                "seeded {users} users in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            tenants.push(Tenant {
                id,
                key,
                group,
                users,
            });
        }
        store.refresh_statistics().await.expect("ANALYZE");
        store.close().await;
        let settle = Duration::from_secs(62).saturating_sub(last_seeded.elapsed());
        eprintln!(
            "waiting {:.0} s for the last ids to settle",
            settle.as_secs_f64()
        );
        tokio::time::sleep(settle).await;

        println!("{backend}, {repeats} reads each, ms: first read / median / p95");
        let header: Vec<String> = sizes.iter().map(|n| format!("{n} users")).collect();
        println!("| request | {} | ratio |", header.join(" | "));
        println!("|---|{}---|", "---|".repeat(sizes.len()));
        for probe in probes() {
            let mut cells = Vec::new();
            let mut medians = Vec::new();
            for tenant in &tenants {
                let url = format!("{addr}{}", (probe.path)(tenant));
                let mut times = Vec::with_capacity(repeats + 1);
                for _ in 0..=repeats {
                    let request = client.get(&url);
                    let request = match probe.auth {
                        Auth::None => request,
                        Auth::Bearer => request.bearer_auth(&tenant.key),
                        Auth::Tyk => request.header("authorization", &tenant.key),
                    };
                    let started = Instant::now();
                    let response = request.send().await.expect("request");
                    let status = response.status();
                    let body = response.bytes().await.expect("body");
                    times.push(started.elapsed());
                    assert!(
                        status.is_success(),
                        "{url}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                let first = times.remove(0);
                let (median, p95) = median_p95(&times);
                medians.push(median);
                cells.push(format!("{:.2} / {median:.2} / {p95:.2}", ms(first)));
            }
            let ratio = medians.last().unwrap() / medians.first().unwrap();
            println!("| {} | {} | {ratio:.2} |", probe.name, cells.join(" | "));
        }
        println!(
            "server resident memory after the reads: {:.0} MiB (peak {:.0} MiB)",
            server.memory_kib().0 as f64 / 1024.0,
            server.memory_kib().1 as f64 / 1024.0
        );
    });
}
