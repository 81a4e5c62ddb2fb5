//! Groups within groups at scale, timed against a `roster serve` process: a tenant of
//! 100,000 users and 10,000 groups in a tree ten levels deep under one top group, each
//! user a direct member of one group of the deepest level. It reads a deepest user's
//! effective groups (/v1 and SCIM), the effective membership check, the top group's
//! 100,000 effective members 100 a page (every page, following `nextCursor`) and the
//! SCIM `groups.value eq` filter on the top group; then it adds and removes a subgroup
//! of 10,000 direct members, under a group of the ninth level and under the top group.
//! `/healthz` is timed the same way in the same run, as the machine's baseline.
//! Everything is measured twice: straight after the seed ("fresh", before the
//! database has statistics of the new rows) and again after `Store::analyze`
//! ("analyzed", as a live tenant's database is once its upkeep has run).
//! Targets: each read under 5 ms, each change under 1 s.
//!
//! `cargo bench --bench nesting` (SQLite), or with ROSTER_BENCH_DATABASE_URL set to an
//! empty PostgreSQL database. ROSTER_BENCH_USERS sets the users (default 100,000);
//! the groups and the subgroup's members are a tenth of it each.
//! ROSTER_BENCH_REPEATS sets how often each read is timed (default 200).
//!
//! The users and their values are written with multi-row INSERT statements of plain
//! SQL, with the columns and values the store's own `insert_user` writes for them;
//! the groups, the hierarchy, the memberships and the effective memberships they
//! bring are written by the store's own code (`Tx`).

use std::time::{Duration, Instant};

use roster::domain::{GroupId, Hierarchy, TenantId, Timestamp, UserId};
use roster::store::Store;
use serde_json::{Value, json};

mod support;

use support::{BenchServer, median_p95, ms};

const TOKEN: &str = "nesting-bench-operator-token-0001";
const LEVELS: usize = 10;

/// How many groups each level holds, the top level one group, growing by a constant
/// ratio (about 2.6 for 10,000 groups), the deepest level taking what rounding leaves.
fn level_sizes(groups: usize) -> Vec<usize> {
    let total = |ratio: f64| (0..LEVELS).map(|k| ratio.powi(k as i32)).sum::<f64>();
    let (mut low, mut high) = (1.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if total(mid) < groups as f64 {
            low = mid;
        } else {
            high = mid;
        }
    }
    let mut sizes: Vec<usize> = (0..LEVELS - 1)
        .map(|k| (low.powi(k as i32).round() as usize).max(1))
        .collect();
    sizes.push(groups - sizes.iter().sum::<usize>());
    sizes
}

/// The seeded tenant: its groups level by level, its users in order, and the
/// subgroup-to-be S.
struct Seeded {
    levels: Vec<Vec<GroupId>>,
    users: Vec<UserId>,
    subgroup: GroupId,
}

/// Writes the tenant straight into the database: the groups and their hierarchy in
/// one transaction of the store's, then the users and their values in plain
/// multi-row statements, then each user's one direct
/// group (users in order fill the deepest groups in order) in the store's
/// transactions of 5,000, then S with the first tenth of the users.
async fn seed(database_url: &str, tenant: TenantId, users: usize, sizes: &[usize]) -> Seeded {
    let store = Store::connect(database_url, &Default::default())
        .await
        .expect("open");

    let started = Instant::now();
    let mut tx = store.begin().await.expect("begin");
    let mut levels: Vec<Vec<GroupId>> = Vec::new();
    for (level, &size) in sizes.iter().enumerate() {
        let mut ids = Vec::with_capacity(size);
        for i in 0..size {
            let g = support::seed_group(tenant, format!("level {} group {i}", level + 1));
            tx.insert_group(&g).await.expect("group");
            ids.push(g.id);
        }
        levels.push(ids);
    }
    let subgroup = support::seed_group(tenant, "S".into());
    tx.insert_group(&subgroup).await.expect("group");
    // Each group of a level under a group of the level above, spread evenly, edges
    // added top-down.
    let edges: Vec<(GroupId, GroupId)> = levels
        .windows(2)
        .flat_map(|pair| {
            let (above, below) = (&pair[0], &pair[1]);
            below
                .iter()
                .enumerate()
                .map(|(i, g)| (above[i * above.len() / below.len()], *g))
        })
        .collect();
    let change = Hierarchy::default().change(&edges, &[]).expect("a tree");
    tx.lock_memberships(tenant, true).await.expect("lock");
    tx.write_hierarchy_change(tenant, &change, Timestamp::now())
        .await
        .expect("hierarchy");
    tx.commit().await.expect("commit");
    println!(
        "seeded {} groups and their {} edges in {:.1} s",
        sizes.iter().sum::<usize>() + 1,
        edges.len(),
        started.elapsed().as_secs_f64()
    );

    // The users first, in plain multi-row statements; then their memberships, by the
    // store, in transactions of 5,000.
    let started = Instant::now();
    let deepest = levels.last().expect("levels").clone();
    let ids = support::insert_seeded_users(database_url, tenant, users).await;
    let users_took = started.elapsed();
    let started = Instant::now();
    support::add_seeded_memberships(&store, tenant, &ids, |i| deepest[i * deepest.len() / users])
        .await;
    println!(
        "seeded {users} users in {:.1} s, and each a direct member of a deepest group in \
         {:.1} s",
        users_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let members: Vec<(GroupId, UserId)> = ids[..users / 10]
        .iter()
        .map(|u| (subgroup.id, *u))
        .collect();
    let mut tx = store.begin().await.expect("begin");
    tx.lock_memberships(tenant, false).await.expect("lock");
    tx.add_memberships(tenant, &members, Timestamp::now())
        .await
        .expect("memberships");
    tx.commit().await.expect("commit");
    println!(
        "seeded S with {} direct members in {:.1} s",
        members.len(),
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Seeded {
        levels,
        users: ids,
        subgroup: subgroup.id,
    }
}

fn main() {
    let users: usize = support::setting("ROSTER_BENCH_USERS", 100_000);
    let repeats: usize = support::setting("ROSTER_BENCH_REPEATS", 200);
    let sizes = level_sizes(users / 10);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = support::database_url(dir.path(), "nesting.db");
    let server = BenchServer::start(&database_url, TOKEN, &[]);
    let addr = server.addr.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let tenant: Value = client
            .post(format!("{addr}/v1/tenants"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "Bench"}))
            .send()
            .await
            .expect("tenant")
            .json()
            .await
            .expect("JSON");
        let tenant = tenant["id"].as_str().expect("id").to_owned();
        let key: Value = client
            .post(format!("{addr}/v1/tenants/{tenant}/api-keys"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "idp", "role": "admin"}))
            .send()
            .await
            .expect("key")
            .json()
            .await
            .expect("JSON");
        let key = key["secret"].as_str().expect("secret").to_owned();

        println!("levels (top first): {sizes:?}");
        let seeded = seed(
            &database_url,
            TenantId::parse(&tenant).expect("tenant"),
            users,
            &sizes,
        )
        .await;
        let top = seeded.levels[0][0];
        // A deepest user outside S, and a ninth-level group whose subtree holds none of
        // S's members (they are the first users, in the first deepest groups).
        let deep_user = *seeded.users.last().expect("users");
        let deep_email = format!("user{}@bench.example", users - 1);
        let ninth = *seeded.levels[LEVELS - 2].last().expect("ninth level");
        let s = seeded.subgroup;
        let v1 = |path: &str| format!("{addr}/v1/tenants/{tenant}{path}");
        let scim = |path: &str| format!("{addr}/scim/v2{path}");

        // Each read: 20 untimed, then `repeats` timed, one at a time, checking the answer.
        let time = |url: String, token: String, check: fn(&Value)| {
            let client = client.clone();
            async move {
                let mut times = Vec::with_capacity(repeats);
                for i in 0..20 + repeats {
                    let started = Instant::now();
                    let response = client
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("read");
                    assert_eq!(response.status(), 200, "{url}");
                    let body = response.bytes().await.expect("body");
                    let elapsed = started.elapsed();
                    if i == 0 {
                        check(&serde_json::from_slice(&body).unwrap_or(Value::Null));
                    }
                    if i >= 20 {
                        times.push(elapsed);
                    }
                }
                median_p95(&times)
            }
        };
        let report = |name: &str, (median, p95): (f64, f64)| {
            println!("{name:58} median {median:7.2} ms   p95 {p95:7.2} ms");
        };

        for phase in ["fresh", "analyzed"] {
            if phase == "analyzed" {
                let started = Instant::now();
                let store = Store::connect(&database_url, &Default::default())
                    .await
                    .expect("open");
                store.refresh_statistics().await.expect("analyze");
                store.close().await;
                println!(
                    "\nStore::analyze in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            println!("-- {phase}");
            report(
                "GET /healthz (baseline)",
                time(format!("{addr}/healthz"), TOKEN.into(), |_| {}).await,
            );
            report(
                "v1 effective groups of a deepest user",
                time(
                    v1(&format!("/users/{deep_user}/groups?membership=effective")),
                    TOKEN.into(),
                    |body| {
                        assert_eq!(
                            body["items"].as_array().map(Vec::len),
                            Some(LEVELS),
                            "{body}"
                        )
                    },
                )
                .await,
            );
            report(
                "SCIM GET /Users/{id} of a deepest user",
                time(scim(&format!("/Users/{deep_user}")), key.clone(), |body| {
                    assert_eq!(
                        body["groups"].as_array().map(Vec::len),
                        Some(LEVELS),
                        "{body}"
                    )
                })
                .await,
            );
            report(
                "v1 users?groupId=top&email=… (effective check)",
                time(
                    v1(&format!("/users?groupId={top}&email={deep_email}")),
                    TOKEN.into(),
                    |body| assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}"),
                )
                .await,
            );
            report(
                "v1 effective members of top, first page of 100",
                time(
                    v1(&format!(
                        "/groups/{top}/members?membership=effective&limit=100"
                    )),
                    TOKEN.into(),
                    |body| assert_eq!(body["items"].as_array().map(Vec::len), Some(100), "{body}"),
                )
                .await,
            );
            report(
                "SCIM /Users?filter=groups.value eq top&count=100",
                time(
                    format!(
                        "{}?filter=groups.value%20eq%20%22{top}%22&count=100",
                        scim("/Users")
                    ),
                    key.clone(),
                    |body| {
                        assert!(
                            body["Resources"].as_array().map(Vec::len) == Some(100),
                            "{body}"
                        )
                    },
                )
                .await,
            );

            // Every page of the top group's effective members, following nextCursor.
            let mut pages = Vec::new();
            let mut listed = 0;
            let mut cursor: Option<String> = None;
            loop {
                let mut url = v1(&format!(
                    "/groups/{top}/members?membership=effective&limit=100"
                ));
                if let Some(cursor) = &cursor {
                    url.push_str(&format!("&cursor={cursor}"));
                }
                let started = Instant::now();
                let response = client
                    .get(&url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("page");
                assert_eq!(response.status(), 200);
                let body = response.bytes().await.expect("body");
                pages.push(started.elapsed());
                let body: Value = serde_json::from_slice(&body).expect("JSON");
                listed += body["items"].as_array().map_or(0, Vec::len);
                match body["nextCursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            assert_eq!(listed, users, "every member listed once");
            let (median, p95) = median_p95(&pages);
            println!(
                "v1 effective members of top, all {} pages of 100: first {:.2} ms, last {:.2} ms, \
                 median {median:.2} ms, p95 {p95:.2} ms, max {:.2} ms",
                pages.len(),
                ms(pages[0]),
                ms(*pages.last().expect("pages")),
                ms(*pages.iter().max().expect("pages")),
            );

            // The changes, alternately: S under a ninth-level group (its members gain nine
            // groups, eight of them new), then away; S under the top group (the top group's
            // count of their ways in goes up by one; they gain one new group: none), then away.
            let rounds = 5;
            let mut changes: Vec<(&str, Vec<Duration>)> = vec![
                ("PUT S under a ninth-level group", Vec::new()),
                ("DELETE S from the ninth-level group", Vec::new()),
                ("PUT S under the top group", Vec::new()),
                ("DELETE S from the top group", Vec::new()),
            ];
            let s_member = seeded.users[0];
            for round in 0..rounds {
                for (i, (method, parent)) in [
                    (reqwest::Method::PUT, ninth),
                    (reqwest::Method::DELETE, ninth),
                    (reqwest::Method::PUT, top),
                    (reqwest::Method::DELETE, top),
                ]
                .into_iter()
                .enumerate()
                {
                    let started = Instant::now();
                    let response = client
                        .request(method, v1(&format!("/groups/{parent}/subgroups/{s}")))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .expect("change");
                    assert_eq!(
                        response.status(),
                        204,
                        "{}",
                        response.text().await.unwrap_or_default()
                    );
                    changes[i].1.push(started.elapsed());
                    if round == 0 {
                        // What a member of S is in now: its deepest group's ten, S, and
                        // the eight of the ninth-level group's chain it was not in already.
                        let body: Value = client
                            .get(v1(&format!(
                                "/users/{s_member}/groups?membership=effective&limit=100"
                            )))
                            .bearer_auth(TOKEN)
                            .send()
                            .await
                            .expect("groups")
                            .json()
                            .await
                            .expect("JSON");
                        let expected = if i == 0 {
                            LEVELS + 1 + LEVELS - 2
                        } else {
                            LEVELS + 1
                        };
                        assert_eq!(
                            body["items"].as_array().map(Vec::len),
                            Some(expected),
                            "after change {i}"
                        );
                    }
                }
            }
            for (name, times) in &changes {
                let each: Vec<String> = times.iter().map(|t| format!("{:.0}", ms(*t))).collect();
                let (median, _) = median_p95(times);
                println!(
                    "{name:38} median {median:7.0} ms   each: {} ms",
                    each.join(", ")
                );
            }
        }
    });
    drop(server);
}
