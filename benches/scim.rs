//! What identity providers do at scale through SCIM, timed against a `roster serve`
//! process: provisioning users through /Bulk, one Group PATCH that adds or removes
//! thousands of members, reading that group, and the `userName eq` lookup every
//! provisioning run starts with.
//!
//! `cargo bench --bench scim` (SQLite), or with ROSTER_BENCH_DATABASE_URL set to an
//! empty PostgreSQL database. ROSTER_BENCH_USERS sets how many users (default 5,000).

use std::time::Instant;

use serde_json::{Value, json};

mod support;

use support::BenchServer;

const TOKEN: &str = "scim-bench-operator-token-000001";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn main() {
    let users: usize = support::setting("ROSTER_BENCH_USERS", 5_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let database_url = support::database_url(dir.path(), "scim.db");
    let server = BenchServer::start(&database_url, TOKEN, &[]);
    let addr = server.addr.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let post = |url: String, token: &str, body: Value| {
            client.post(url).bearer_auth(token).json(&body).send()
        };
        let tenant: Value = post(format!("{addr}/v1/tenants"), TOKEN, json!({"name": "Bench"}))
            .await.expect("tenant").json().await.expect("JSON");
        let tenant = tenant["id"].as_str().expect("id");
        let key: Value = post(
            format!("{addr}/v1/tenants/{tenant}/api-keys"),
            TOKEN,
            json!({"name": "idp", "role": "admin"}),
        )
        .await.expect("key").json().await.expect("JSON");
        let key = key["secret"].as_str().expect("secret").to_owned();
        let scim = |path: &str| format!("{addr}/scim/v2{path}");
        let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
            let request = client.request(method, scim(path)).bearer_auth(&key);
            match body {
                Some(body) => request.json(&body),
                None => request,
            }
            .send()
        };

        // Provisioning through /Bulk, 1,000 operations a request.
        let started = Instant::now();
        let mut ids = Vec::with_capacity(users);
        for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
            let operations: Vec<Value> = chunk
                .iter()
                .map(|i| json!({
                    "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": {
                        "schemas": [USER], "userName": format!("user{i}@bench.example"),
                        "name": {"givenName": "Bench", "familyName": format!("User {i}")},
                        "externalId": format!("ext-{i}"),
                    },
                }))
                .collect();
            let response = send(reqwest::Method::POST, "/Bulk", Some(json!({"schemas": [BULK], "Operations": operations})))
                .await.expect("bulk");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.expect("JSON");
            for outcome in body["Operations"].as_array().expect("operations") {
                assert_eq!(outcome["status"], "201", "{outcome}");
                let location = outcome["location"].as_str().expect("location");
                ids.push(location.rsplit('/').next().expect("id").to_owned());
            }
        }
        let bulk = started.elapsed().as_secs_f64();
        println!(
            "/Bulk: {users} users created in {:.2} s ({:.0} users/s, 1,000 operations a request)",
            bulk,
            users as f64 / bulk
        );

        // One Group PATCH adding every user, then one removing them all.
        let group: Value = send(reqwest::Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Everyone"})))
            .await.expect("group").json().await.expect("JSON");
        let group_path = format!("/Groups/{}", group["id"].as_str().expect("id"));
        let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        let started = Instant::now();
        let added = send(
            reqwest::Method::PATCH,
            &group_path,
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": members}]})),
        )
        .await.expect("patch");
        assert_eq!(added.status(), 200);
        let body = added.bytes().await.expect("body");
        println!(
            "PATCH adding {users} members: {:.0} ms (reply {:.1} KiB, the whole group)",
            started.elapsed().as_secs_f64() * 1000.0,
            body.len() as f64 / 1024.0
        );
        let started = Instant::now();
        let read = send(reqwest::Method::GET, &group_path, None).await.expect("get");
        assert_eq!(read.status(), 200);
        let body: Value = read.json().await.expect("JSON");
        assert_eq!(body["members"].as_array().map(Vec::len), Some(users));
        println!(
            "GET the group of {users} members: {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        let started = Instant::now();
        let removed = send(
            reqwest::Method::PATCH,
            &group_path,
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members", "value": members}]})),
        )
        .await.expect("patch");
        assert_eq!(removed.status(), 200);
        println!(
            "PATCH removing {users} members (Entra ID's value-array form): {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );

        // The lookup that starts every provisioning run, one at a time.
        let lookups: u32 = 500;
        let started = Instant::now();
        for i in 0..lookups {
            let filter = format!("userName eq \"user{}@bench.example\"", (i as usize * 7919) % users);
            let found = client
                .get(scim("/Users"))
                .bearer_auth(&key)
                .query(&[("filter", filter.as_str())])
                .send()
                .await
                .expect("lookup");
            assert_eq!(found.status(), 200);
            let body: Value = found.json().await.expect("JSON");
            assert_eq!(body["totalResults"], 1);
        }
        let each = started.elapsed().as_secs_f64() * 1000.0 / f64::from(lookups);
        println!("GET /Users?filter=userName eq …: {each:.2} ms each ({lookups} one at a time, {users} users)");
    });
    drop(server);
}
