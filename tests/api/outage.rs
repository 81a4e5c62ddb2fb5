//! A database that cannot be reached is answered 503 with Retry-After, in the asking
//! face's format, within the acquire timeout, and service comes back by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::helpers::{TestApp, TestTenant};

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

async fn expect_unavailable(response: Response, content_type: &str) -> Value {
    assert_eq!(response.status(), 503);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a 503 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    let declared = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(declared.starts_with(content_type), "{declared}");
    response.json().await.unwrap()
}

/// One write per face, each of which needs the database's write side.
async fn every_face_answers_503_in_its_format(app: &TestApp, tenant: &TestTenant) {
    let problem = expect_unavailable(
        app.post(
            &format!("/v1/tenants/{}/users", tenant.id),
            &tenant.admin,
            &json!({"email": "down@example.com", "firstName": "Down", "lastName": "Time"}),
        )
        .await,
        "application/problem+json",
    )
    .await;
    assert_eq!(problem["status"], 503);

    let scim = expect_unavailable(
        app.request(reqwest::Method::POST, "/scim/v2/Groups", &tenant.admin)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Down"}).to_string())
            .send()
            .await
            .unwrap(),
        "application/scim+json",
    )
    .await;
    assert_eq!(scim["status"], "503");
    assert_eq!(
        scim["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    let tyk = app
        .client
        .post(app.url("/api/users"))
        .header("authorization", &tenant.admin)
        .json(&json!({"first_name": "Down", "last_name": "Time", "email_address": "tyk-down@example.com", "password": "a long enough passphrase 42"}))
        .send()
        .await
        .unwrap();
    let tyk = expect_unavailable(tyk, "application/json").await;
    assert_eq!(tyk["Status"], "Error");
}

#[tokio::test]
async fn sqlite_held_by_another_writer_answers_503_then_recovers() {
    let app = TestApp::spawn_with(|s| s.store.acquire_timeout = ACQUIRE_TIMEOUT).await;
    if !app.database_url().starts_with("sqlite:") {
        return; // The PostgreSQL case is the proxy test below.
    }
    let tenant = app.tenant().await;
    let mut holder = sqlx::SqliteConnection::connect(app.database_url())
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();

    every_face_answers_503_in_its_format(&app, &tenant).await;

    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    app.user(&tenant, "back@example.com").await;
    let users = app.all_users(&tenant).await;
    assert_eq!(
        users.len(),
        1,
        "nothing was written while the database was held"
    );
}

/// A TCP proxy to PostgreSQL that can be cut (open connections dropped, new ones
/// accepted but never forwarded, as a database behind a failed network) and mended.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Proxy {
    async fn to(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Notify::new());
        let (accept_down, accept_cut) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            let mut parked = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if accept_down.load(Ordering::SeqCst) {
                    parked.push(client);
                    continue;
                }
                let upstream = upstream.clone();
                let cut = accept_cut.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Proxy { port, down, cut }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn mend(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// `postgres://u@host:port/db` with its host and port replaced by the proxy's.
fn through(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}127.0.0.1:{port}/{path}")
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

#[tokio::test]
async fn postgresql_out_of_reach_answers_503_and_readyz_503_then_recovers() {
    let Ok(admin) = std::env::var("ROSTER_TEST_DATABASE_URL") else {
        return; // The SQLite case is the held-writer test above.
    };
    if admin.is_empty() {
        return;
    }
    let proxy = Proxy::to(host_port(&admin)).await;
    let app = TestApp::spawn_routed(
        |url| through(url, proxy.port),
        |s| s.store.acquire_timeout = ACQUIRE_TIMEOUT,
    )
    .await;
    let tenant = app.tenant().await;

    proxy.cut();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    every_face_answers_503_in_its_format(&app, &tenant).await;

    proxy.mend();
    let mut recovered = false;
    for _ in 0..20 {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the server did not come back with the database");
    app.user(&tenant, "back@example.com").await;
    assert_eq!(app.all_users(&tenant).await.len(), 1);
}
