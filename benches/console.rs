//! The web console's pages at scale, timed against a `roster serve` process: a tenant
//! of 100,000 users and 100 groups of 1,000 members each, an administrator signed in
//! through the sign-in form. Each page is read with the session's cookie, the same
//! number of times as `/healthz` in the same run (the machine's baseline), and the
//! median and 95th percentile are reported. The time is taken at the client, so it
//! holds the server's time plus a loopback round trip. Target: under 20 ms a page.
//!
//! `cargo bench --bench console` (SQLite), or with ROSTER_BENCH_DATABASE_URL set to an
//! empty PostgreSQL database. ROSTER_BENCH_USERS sets the users (default 100,000);
//! ROSTER_BENCH_REPEATS how often each page is read (default 100).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use roster::domain::{GroupId, PageCursor, TenantId, UserId};
use roster::store::Store;
use serde_json::{Value, json};

mod support;

use support::{BenchServer, median_p95};

const TOKEN: &str = "console-bench-operator-token-0001";
const GROUPS: usize = 100;
const PASSWORD: &str = "correct horse battery staple";

/// Writes the users straight into the database, and puts the `i`th into group
/// `i % GROUPS`: answers the users' ids and the groups' ids.
async fn seed(database_url: &str, tenant: TenantId, users: usize) -> (Vec<UserId>, Vec<GroupId>) {
    let store = Store::connect(database_url, &Default::default())
        .await
        .expect("open");
    let started = Instant::now();
    let mut tx = store.begin().await.expect("begin");
    let mut groups = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        let group = support::seed_group(tenant, format!("Team {i:03}"));
        tx.insert_group(&group).await.expect("group");
        groups.push(group.id);
    }
    tx.commit().await.expect("commit");
    let ids = support::insert_seeded_users(database_url, tenant, users).await;
    support::add_seeded_memberships(&store, tenant, &ids, |i| groups[i % GROUPS]).await;
    store.refresh_statistics().await.expect("analyze");
    store.close().await;
    println!(
        "seeded {users} users in {GROUPS} groups in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (ids, groups)
}

/// A browser without JavaScript: keeps its cookies and the last page's CSRF token.
struct Visitor {
    client: reqwest::Client,
    addr: String,
    cookies: BTreeMap<String, String>,
    csrf: String,
}

impl Visitor {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, String) {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("response");
        for cookie in response.headers().get_all("set-cookie") {
            let cookie = cookie.to_str().expect("ASCII");
            let pair = cookie.split(';').next().expect("a pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').expect("quote")].to_owned();
        }
        (status, body)
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let request = self.client.get(format!("{}{path}", self.addr));
        self.send(request).await
    }

    async fn sign_in(&mut self, tenant: &str, email: &str) {
        self.get(&format!("/ui/t/{tenant}/sign-in")).await;
        let form = [
            ("email", email),
            ("password", PASSWORD),
            ("csrf", &self.csrf.clone()),
        ];
        let request = self
            .client
            .post(format!("{}/ui/t/{tenant}/sign-in", self.addr))
            .form(&form);
        let (status, body) = self.send(request).await;
        assert_eq!(status, 303, "signed in: {body}");
    }
}

fn main() {
    let users: usize = support::setting("ROSTER_BENCH_USERS", 100_000);
    let repeats: usize = support::setting("ROSTER_BENCH_REPEATS", 100);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = support::database_url(dir.path(), "console.db");
    let server = BenchServer::start(&database_url, TOKEN, &[]);
    let addr = server.addr.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
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
        let (ids, groups) = seed(&database_url, TenantId::parse(&tenant).expect("id"), users).await;
        let admin: Value = client
            .post(format!("{addr}/v1/tenants/{tenant}/users"))
            .bearer_auth(TOKEN)
            .json(&json!({"email": "admin@bench.example", "firstName": "Ada",
                "lastName": "Admin", "password": PASSWORD, "role": "admin"}))
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("JSON");
        assert!(admin["id"].is_string(), "{admin}");
        client
            .post(format!("{addr}/v1/tenants/{tenant}/api-keys"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "deploy", "role": "reader"}))
            .send()
            .await
            .expect("key");

        let mut visitor = Visitor {
            client: client.clone(),
            addr: addr.clone(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        };
        visitor.sign_in(&tenant, "admin@bench.example").await;

        let t = &tenant;
        let middle = PageCursor::after(ids[users / 2].as_uuid()).encode();
        let pages: Vec<(&str, String)> = vec![
            ("/healthz (baseline)", "/healthz".to_owned()),
            ("users, first page", format!("/ui/t/{t}/users")),
            (
                "users, a page from the middle",
                format!("/ui/t/{t}/users?cursor={middle}"),
            ),
            (
                "users, search as you type (htmx)",
                format!("/ui/t/{t}/users?q=user7777"),
            ),
            (
                "users, status and role",
                format!("/ui/t/{t}/users?status=active&role=member"),
            ),
            (
                "users, in a group of 1,000",
                format!("/ui/t/{t}/users?group={}", groups[7]),
            ),
            (
                "a user's page",
                format!("/ui/t/{t}/users/{}", ids[users / 3]),
            ),
            ("new user form", format!("/ui/t/{t}/users/new")),
            ("groups", format!("/ui/t/{t}/groups")),
            (
                "a group of 1,000 members",
                format!("/ui/t/{t}/groups/{}", groups[3]),
            ),
            (
                "user picker (htmx)",
                format!("/ui/t/{t}/user-picker?email=user12"),
            ),
            ("API keys", format!("/ui/t/{t}/api-keys")),
            ("audit log", format!("/ui/t/{t}/audit")),
            ("settings", format!("/ui/t/{t}/settings")),
            ("my account", format!("/ui/t/{t}/account")),
            ("two-factor", format!("/ui/t/{t}/account/two-factor")),
            ("sessions", format!("/ui/t/{t}/account/sessions")),
        ];
        println!("\n{users} users, {GROUPS} groups; {repeats} reads of each page\n");
        println!("| page | median ms | p95 ms | × /healthz |");
        println!("|---|---|---|---|");
        let mut baseline = 0.0;
        for (name, path) in pages {
            let htmx = path.contains("q=") || path.contains("user-picker");
            let mut times: Vec<Duration> = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let mut request = visitor.client.get(format!("{addr}{path}"));
                if htmx {
                    request = request.header("hx-request", "true");
                }
                let started = Instant::now();
                let (status, body) = visitor.send(request).await;
                times.push(started.elapsed());
                assert_eq!(status, 200, "{name}: {body}");
            }
            let (median, p95) = median_p95(&times);
            if baseline == 0.0 {
                baseline = median;
            }
            println!(
                "| {name} | {median:.2} | {p95:.2} | {:.0} |",
                median / baseline
            );
        }
    });
    drop(server);
}
